"""End to end: run_task on a real git repo, real ruff and pytest, the real SDK against the sim.

The ladder's logic on the in-process fake model: test_ladder.py."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from samplerepo import (
    CALC_FILES,
    CALC_TARGET,
    FIX,
    ROLES_OFF,
    calls_jsonl,
    git,
    make_calc_repo,
    sample_config,
    worktree_count,
)

from escalate.ladder.run import run_task
from escalate.llm.pricing import PriceTable
from escalate.task import Task


def turn(*blocks: dict, text: str = "Looking at add().") -> dict:
    """An opening turn (no tool results in the last user message) that makes edits."""
    return {
        "when": {"last_user_has_tool_result": False},
        "content": [{"type": "text", "text": text}, *blocks],
    }


DONE = {"when": {"last_user_has_tool_result": True}, "content": "Changed add() in calc/ops.py. DONE"}


# The ladder itself, without the helper roles (explorer, planner, reviewer, commit writer): each
# role's own calls are tested with the roles; here every scripted reply belongs to the implementer.
def config_for(root: Path, **overrides):
    return sample_config(root, {"roles": ROLES_OFF}, overrides)


def task(*tests: str) -> Task:
    tests = tests or (CALC_TARGET,)
    return Task(
        kind="test",
        title=f"make {', '.join(tests)} pass",
        text="The test fails.",
        target_tests=list(tests),
        labels=[],
        source="test",
        slug="test-add",
    )


@pytest.mark.slow
def test_haiku_fixes_on_the_first_try(tmp_path, env):
    env.set_script({"models": {"claude-haiku-4-5": [turn(FIX), DONE]}})
    root = make_calc_repo(tmp_path)
    outcome = run_task(task(), root, config_for(root))
    assert outcome.outcome == "fixed", outcome.explanation
    assert [(a.tier, a.verdict) for a in outcome.attempts] == [("haiku", "pass")]
    assert outcome.calls == 2 and len(env.messages_requests()) == 2
    assert worktree_count(root) == 1  # only the user's own
    message = git(root, "log", "-1", "--format=%B", outcome.branch)
    assert message.startswith("fix: make tests/test_ops.py::test_add pass")
    assert "Escalated-by: escalate (haiku/claude-haiku-4-5)" in message
    assert "return a + b" in git(root, "show", f"{outcome.branch}:calc/ops.py")
    assert (root / "calc/ops.py").read_text() == CALC_FILES["calc/ops.py"]  # the checkout is untouched
    # Money: the JSON total is the sum of the call log, and the simulator charged exactly that.
    records = calls_jsonl(outcome)
    assert outcome.cost_usd == env.total_cost() > 0
    assert sum(Decimal(str(r["cost_usd"])) for r in records) == pytest.approx(
        outcome.cost_usd, abs=Decimal("0.000001")
    )
    assert {r["request_id"] for r in records} == {r["request_id"] for r in env.messages_requests()}
    # What the renderers read travels as fields: the records of the calls, the targets, the top tier.
    assert [r.request_id for r in outcome.call_records] == [r["request_id"] for r in records]
    assert outcome.targets == ["tests/test_ops.py::test_add"]
    opus = outcome.top_model
    assert opus and opus.startswith("claude-opus")
    prices = PriceTable.load()
    assert outcome.top_model_cost_usd == sum(prices.cost(opus, r.usage) for r in outcome.call_records) > 0


@pytest.mark.slow
def test_api_error_after_retries_ends_in_error_with_the_request_id(tmp_path, env):
    env.set_script({"faults": [{"on_request": 1, "status": 400}]})
    root = make_calc_repo(tmp_path)
    outcome = run_task(task(), root, config_for(root))
    assert outcome.outcome == "error"
    [request] = env.messages_requests()
    assert request["request_id"] in outcome.explanation and "400" in outcome.explanation
    assert [(a.verdict, a.stage) for a in outcome.attempts] == [("error", "api")]
    result = json.loads((Path(outcome.log_dir) / "result.json").read_text())
    assert result["outcome"] == "error" and result["calls"] == 1  # the refused try, logged at $0
    [call] = [json.loads(x) for x in (Path(outcome.log_dir) / "calls.jsonl").read_text().splitlines()]
    assert (call["outcome"], call["cost_usd"], call["request_id"]) == ("error", 0, request["request_id"])
    assert outcome.branch is None and "escalate/" not in git(root, "branch", "--list")
    assert worktree_count(root) == 1  # only the user's own
