import json
import xml.etree.ElementTree as ET
from decimal import Decimal

from escalate.llm.client import CallRecord
from escalate.llm.pricing import PriceTable, Usage
from escalate.records.rundir import RunLog
from escalate.records.types import AttemptRecord, Decision, Outcome


def record(tier: str, model: str, usage: Usage, prices: PriceTable) -> CallRecord:
    return CallRecord(
        run="r1",
        tier=tier,
        role="fixer",
        model=model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_read_tokens=usage.cache_read,
        thinking_tokens=usage.thinking_tokens,
        cost_usd=prices.cost(model, usage),
        request_id="req_1",
        duration_s=0.5,
        stop_reason="end_turn",
        usage=usage,
    )


def test_run_log_writes_every_file_and_sums_to_the_cent(tmp_path):
    prices = PriceTable.load()
    log = RunLog(tmp_path / "run", prices, "claude-opus-4-6", title="fix test_add")
    haiku = Usage(input_tokens=2000, output_tokens=500, cache_write_5m=4100, cache_read=0)
    sonnet = Usage(input_tokens=5000, output_tokens=6000, cache_read=4100, thinking_tokens=1000)
    log.call(record("haiku", "claude-haiku-4-5", haiku, prices))
    # Appended and flushed as it happens: readable before the run finishes.
    assert len((tmp_path / "run" / "calls.jsonl").read_text().splitlines()) == 1
    log.call(record("sonnet", "claude-sonnet-4-6", sonnet, prices))
    log.decision(Decision("escalate", "haiku -> sonnet", "2 failed attempts"))
    log.attempt(
        AttemptRecord(
            "haiku",
            "claude-haiku-4-5",
            1,
            "fail",
            "target",
            "test_add failed",
            Decimal("0.01"),
            output="assert 1 == 5",
        )
    )
    log.attempt(AttemptRecord("sonnet", "claude-sonnet-4-6", 1, "pass", "ok", "passed", Decimal("0.1")))
    outcome = Outcome(
        "fixed",
        branch="escalate/x",
        commit="a" * 40,
        cost_usd=log.spent,
        calls=2,
        attempts=log.attempts,
        decisions=log.decisions,
        log_dir=str(log.path),
    )
    log.finish(outcome)

    lines = [json.loads(x) for x in (tmp_path / "run" / "calls.jsonl").read_text().splitlines()]
    assert [x["tier"] for x in lines] == ["haiku", "sonnet"]
    # By hand, $/MTok: haiku 2000*1 + 500*5 + 4100*1.25 (5m write); sonnet 5000*3 + 6000*15 + 4100*0.3 (read).
    assert [x["cost_usd"] for x in lines] == [0.009625, 0.10623]
    expected = Decimal("0.115855")
    assert lines[0]["cache_write_tokens"] == 4100 and lines[1]["cache_read_tokens"] == 4100
    assert lines[1]["thinking_tokens"] == 1000

    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["outcome"] == "fixed" and result["calls"] == 2
    assert result["cost_usd"] == round(float(expected), 6)
    assert [a["verdict"] for a in result["attempts"]] == ["fail", "pass"]
    assert result["decisions"][0]["reason"] == "2 failed attempts"

    suite = ET.parse(tmp_path / "run" / "attempts.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["haiku attempt 1", "sonnet attempt 1"]
    assert "assert 1 == 5" in cases[0].find("failure").text
    assert cases[1].find("failure") is None

    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "| haiku | claude-haiku-4-5 | 1 | 1 | fail |" in summary
    # The same usage at opus-4-6 ($5 / $25, write 6.25, read 0.5): 0.048125 + 0.17705 = 0.225175.
    assert "top tier (claude-opus-4-6)" in summary and "0.2252" in summary
    decisions = (tmp_path / "run" / "decisions.jsonl").read_text().splitlines()
    assert [json.loads(x)["kind"] for x in decisions] == ["escalate"]


def test_outcome_json_has_exactly_the_documented_keys():
    keys = set(Outcome("needs_human").to_json())
    documented = {"outcome", "branch", "commit", "cost_usd", "calls", "attempts", "decisions", "log_dir"}
    # docs/fix.md (reproduction, no_test_reason: "Issues"; sandbox; discarded), docs/roles.md (cost_by_role)
    documented |= {"explanation", "cost_by_role", "reproduction", "no_test_reason", "sandbox", "discarded"}
    assert keys == documented
    attempt = AttemptRecord("haiku", "m", 1, "circular", "circular", "no change").to_json()
    assert set(attempt) == {"tier", "model", "n", "verdict", "stage", "reason", "cost_usd", "discarded"}


def test_progress_status_lines_and_quiet():
    import io

    from escalate.records.console import Progress

    out = io.StringIO()
    p = Progress(out)
    p.attempt_start("haiku", "claude-haiku-4-5", 1)
    p.attempt_end("fail", "target", "target test failed: tests/t.py::test_a", Decimal("0.0035"))
    p.attempt_start("sonnet", "claude-sonnet-4-6", 1)
    p.attempt_end("pass", "ok", "all stages passed", Decimal("0.0159"))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("tier haiku (claude-haiku-4-5) attempt 1 ...")
    assert lines[0].endswith("Failed (target test failed: tests/t.py::test_a), spent $0.0035")
    assert lines[1].endswith("Passed, spent $0.0159")
    silent = io.StringIO()
    q = Progress(silent, quiet=True)
    q.attempt_start("haiku", "m", 1)
    q.line("x")
    assert silent.getvalue() == ""


def test_a_role_line_inside_an_attempt_does_not_orphan_its_verdict():
    import io
    from decimal import Decimal

    from escalate.records.console import Progress

    out = io.StringIO()
    p = Progress(out, color=False)
    p.attempt_start("sonnet", "claude-sonnet-4-6", 1)
    p.line("reviewer (claude-haiku-4-5): approve")
    p.attempt_end("pass", "ok", "", Decimal("0.0224"))
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("tier sonnet (claude-sonnet-4-6) attempt 1 ...")
    assert lines[-1].endswith("Passed, spent $0.0224")
