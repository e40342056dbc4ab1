import pytest

from schedule import format_duration, parse_duration


def test_hours_and_minutes():
    assert parse_duration("1h30m") == 5400


def test_seconds_only():
    assert parse_duration("45s") == 45


def test_days():
    assert parse_duration("2d") == 172800
    assert parse_duration("1d12h") == 129600


def test_format_days():
    assert format_duration(90061) == "1d1h1m1s"


def test_rejects_out_of_order():
    with pytest.raises(ValueError):
        parse_duration("30m1h")


def test_rejects_garbage():
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_format_round_trip():
    assert parse_duration(format_duration(3725)) == 3725
