"""One Recording writes each record to the run log, the ledger and the console."""

import io
import json
from decimal import Decimal

from escalate.llm.client import CallRecord
from escalate.llm.pricing import PriceTable, Usage
from escalate.records.console import Progress
from escalate.records.ledger import Ledger
from escalate.records.recording import Recording
from escalate.records.rundir import RunLog
from escalate.records.types import AttemptRecord, Decision, Outcome
from escalate.task import Task


def test_records_before_the_ledger_starts_are_replayed_and_every_record_lands_everywhere(tmp_path):
    usage = Usage(input_tokens=1000, output_tokens=100)
    call = CallRecord("x", "haiku", "implementer", "claude-haiku-4-5", 1000, 100, 0, 0, 0, Decimal("0.0015"),
                      "req_1", 0.1, "end_turn", usage=usage)  # fmt: skip
    log = RunLog(tmp_path / "run-1", PriceTable.load(), "claude-opus-4-6", "t")
    console = io.StringIO()
    with Ledger.open(tmp_path / "l.db") as ledger:
        recording = Recording(log, ledger, Progress(console, color=False))
        recording.decision(Decision("baseline", "targets", "before routing"))  # before the ledger run
        recording.start_ledger(Task.from_tests(["t.py::a"]), complexity="generative", error_cost="low",
                               repo=tmp_path, base_commit="c0ffee", source="batch:b1")  # fmt: skip
        recording.call(call)
        attempt = AttemptRecord("haiku", "claude-haiku-4-5", 1, "pass", "ok", "passed", call.cost_usd)
        recording.attempt(attempt, spent=call.cost_usd)
        recording.finish(Outcome("fixed", cost_usd=call.cost_usd, calls=1, log_dir=str(log.path)))
        assert [d["reason"] for d in ledger.decisions("run-1")] == ["before routing"]
        assert ledger.run_cost("run-1") == 0.0015
        run = ledger.db.execute("SELECT source FROM runs WHERE id = 'run-1'").fetchone()
        assert run["source"] == "batch:b1"
        outcome = ledger.db.execute(
            "SELECT outcome, final_tier FROM outcomes WHERE run_id = 'run-1'"
        ).fetchone()
        assert tuple(outcome) == ("fixed", "haiku")
    assert json.loads((log.path / "calls.jsonl").read_text())["request_id"] == "req_1"
    assert json.loads((log.path / "result.json").read_text())["outcome"] == "fixed"
    assert "Passed" in console.getvalue() and "$0.0015" in console.getvalue()
