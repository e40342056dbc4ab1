from logtail import last_errors, tail


def test_tail(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {n}\n" for n in range(20)))
    assert tail(log, 3) == ["line 17", "line 18", "line 19"]


def test_last_errors(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("INFO a\nERROR b\nINFO c\nERROR d\nERROR e\n")
    assert last_errors(log, 2) == ["ERROR d", "ERROR e"]
