from greenhouse import check, daily_summary, parse_frame


def test_parse_frame_in_degrees():
    assert parse_frame("s1;215;60\n").temperature == 21.5


def test_no_alert_on_a_mild_day():
    assert check(parse_frame("s1;215;60")) is None


def test_frost_alert():
    assert check(parse_frame("s2;15;80")) == "frost risk at s2: 1.5 C"


def test_heat_alert():
    assert check(parse_frame("s3;362;20")) == "heat alert at s3: 36.2 C"


def test_daily_summary():
    frames = ["a;180;50", "a;240;55", "a;210;60"]
    summary = daily_summary([parse_frame(f) for f in frames])
    assert summary == {"min": 18.0, "max": 24.0, "mean": 21.0, "humidity": 55.0}
