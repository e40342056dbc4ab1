"""The router inside real runs: run_task on a real git repo, real ruff and pytest, the SDK against
the sim; the classifier call, a `line:` tier and the ledger on every exit path."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from samplerepo import AFTER_TOOLS, CALC_TARGET, FIX, OPEN, ROLES_OFF, make_calc_repo, sample_config

from escalate.ladder.run import run_task
from escalate.records.ledger import Ledger
from escalate.task import Task

pytestmark = pytest.mark.slow  # end to end: the real SDK against the simulated API

FIXING = {"when": OPEN, "content": [{"type": "text", "text": "On it."}, FIX]}
DONE = {"when": AFTER_TOOLS, "content": "Fixed add(). DONE"}


def config_for(root: Path, **overrides):
    # every scripted reply belongs to the implementer or the classifier
    return sample_config(root, {"validate": {"full_suite": False}, "roles": ROLES_OFF}, overrides)


def rows(root: Path, sql: str) -> list[dict]:
    with Ledger.open(root / ".escalate/ledger.db") as ledger:
        return [dict(r) for r in ledger.db.execute(sql).fetchall()]


def test_classifier_and_a_line_tier_in_a_full_fix(tmp_path, env):
    """The classifier says reasoning; the run starts (start_tier) on the `line: sonnet` tier, which
    resolves to the newest active sonnet of the sim's Models API; the classifier call is charged and
    logged. (A class no longer moves the start by itself: only ledger history does, issue 14.)"""
    verdict = {"complexity": "reasoning", "error_cost": "low", "reason": "needs a careful look"}
    env.set_script(
        {
            "models": {
                "claude-haiku-4-5": [
                    {"when": {"system_contains": "model router"}, "content": json.dumps(verdict)}
                ],
                "claude-sonnet-5-5": [FIXING, DONE],
            }
        }
    )
    root = make_calc_repo(tmp_path)
    config = config_for(
        root,
        tiers=[{"name": "haiku", "model": "claude-haiku-4-5"}, {"name": "sonnet", "line": "sonnet"}],
        router={"classifier_call": True},
        start_tier="sonnet",
    )
    outcome = run_task(Task.from_tests([CALC_TARGET]), root, config)
    assert outcome.outcome == "fixed", outcome.explanation
    assert [(a.tier, a.model, a.verdict) for a in outcome.attempts] == [
        ("sonnet", "claude-sonnet-5-5", "pass")
    ]
    by_kind = {d.kind: d for d in outcome.decisions}
    assert by_kind["model"].choice == "sonnet: claude-sonnet-5-5"
    assert by_kind["classifier"].choice == "reasoning/low"
    assert by_kind["start_tier"].choice == "sonnet (claude-sonnet-5-5)"
    calls = [json.loads(x) for x in (Path(outcome.log_dir) / "calls.jsonl").read_text().splitlines()]
    assert (calls[0]["role"], calls[0]["model"]) == ("classifier", "claude-haiku-4-5")
    assert calls[0]["cost_usd"] > 0
    assert outcome.cost_usd == env.total_cost()  # the classifier is in the run's total
    run = Path(outcome.log_dir).name
    ledger_calls = rows(root, f"SELECT role, model, cost_usd FROM calls WHERE run_id = '{run}' ORDER BY id")
    assert [c["role"] for c in ledger_calls] == [c["role"] for c in calls]
    assert sum(Decimal(str(c["cost_usd"])) for c in ledger_calls) == pytest.approx(
        outcome.cost_usd, abs=Decimal("0.000001")
    )
    [task] = rows(root, f"SELECT complexity, error_cost FROM tasks WHERE run_id = '{run}'")
    assert task == {"complexity": "reasoning", "error_cost": "low"}
    [out] = rows(root, f"SELECT outcome, final_tier FROM outcomes WHERE run_id = '{run}'")
    assert out == {"outcome": "fixed", "final_tier": "sonnet"}
    kinds = {r["kind"] for r in rows(root, f"SELECT kind FROM decisions WHERE run_id = '{run}'")}
    assert {
        "context",
        "class",
        "classifier",
        "start_tier",
        "effort",
        "thinking",
        "outcome",
    } <= kinds


def test_a_run_that_stops_before_routing_is_in_the_ledger(tmp_path, env):
    root = make_calc_repo(tmp_path)
    outcome = run_task(Task.from_tests(["tests/test_ops.py::test_sub"]), root, config_for(root))
    assert outcome.outcome == "cannot_reproduce"
    run = Path(outcome.log_dir).name
    [task] = rows(root, f"SELECT kind, complexity FROM tasks WHERE run_id = '{run}'")
    assert task == {"kind": "test", "complexity": None}  # never classified: learning ignores it
    [out] = rows(root, f"SELECT outcome FROM outcomes WHERE run_id = '{run}'")
    assert out["outcome"] == "cannot_reproduce"
    assert (
        rows(root, f"SELECT choice FROM decisions WHERE run_id = '{run}'")[0]["choice"] == "cannot_reproduce"
    )


def test_an_api_failure_mid_run_leaves_what_was_written(tmp_path, env):
    env.set_script(
        {"models": {"claude-haiku-4-5": [FIXING, DONE]}, "faults": [{"on_request": 2, "status": 529}]}
    )
    root = make_calc_repo(tmp_path)
    config = config_for(root, session={"max_retries": 0})
    outcome = run_task(Task.from_tests([CALC_TARGET]), root, config)
    assert outcome.outcome == "error"
    run = Path(outcome.log_dir).name
    # The call that answered, then the refused try (logged, not billed).
    tries = rows(root, f"SELECT stop_reason, cost_usd FROM calls WHERE run_id = '{run}' ORDER BY id")
    assert [t["stop_reason"] is not None for t in tries] == [True, False] and tries[1]["cost_usd"] == 0
    [attempt] = rows(root, f"SELECT tier, verdict, stage FROM attempts WHERE run_id = '{run}'")
    assert attempt == {"tier": "haiku", "verdict": "error", "stage": "api"}
    [out] = rows(root, f"SELECT outcome, cost_usd FROM outcomes WHERE run_id = '{run}'")
    assert out["outcome"] == "error" and out["cost_usd"] == pytest.approx(float(outcome.cost_usd))
