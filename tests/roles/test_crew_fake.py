"""The crew in a run, on the in-process fake model (tests/fakemodel.py): which roles are asked, on which
model, with which system prompt, and what their answers change. Real git, ruff and pytest; the runs
through the real SDK and the simulator are in test_roles_e2e.py."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from fakemodel import FakeModel
from samplerepo import CALC_FIX, CALC_TARGET, git, make_calc_repo, sample_config

from escalate.ladder.run import run_task
from escalate.llm.catalog import Catalog
from escalate.llm.pricing import PriceTable
from escalate.task import Task

EDITOR = "str_replace_based_edit_tool"
MARKERS = {
    "explorer": "You are the explorer",
    "planner": "You are the planner",
    "implementer": "careful software engineer",
    "reviewer": "You are the code reviewer",
    "committer": "You are the commit message writer",
}
PLAN = "PLAN-7f3: add() in calc/ops.py subtracts; make it return a + b and touch nothing else."


def by_role(fake: FakeModel) -> dict[str, list[dict]]:
    """The bodies sent, grouped by the role whose system prompt each carries."""

    def system(body: dict) -> str:
        return "".join(b["text"] for b in body.get("system", []))

    return {role: [b for b in fake.bodies if marker in system(b)] for role, marker in MARKERS.items()}


def test_plan_execute_plans_on_opus_and_implements_on_sonnet(tmp_path):
    """Unqueued reviewer and commit writer get a plain answer: the review is recorded as unclear
    (not blocking), the commit message falls back to the runner's."""
    fake = FakeModel().enqueue(PLAN, role="planner", model="claude-opus-4-6")
    fix = {"type": "tool_use", "name": EDITOR, "input": {"command": "str_replace", **CALC_FIX}}
    fake.enqueue("Editing add().", fix, role="implementer", model="claude-sonnet-4-6")
    fake.enqueue("Changed add() in calc/ops.py to add. DONE", role="implementer", model="claude-sonnet-4-6")
    root = make_calc_repo(tmp_path)
    roles = {"preset": "plan-execute", "explorer": {"enabled": False}}
    config = sample_config(root, {"validate": {"full_suite": False}, "roles": roles})
    task = Task(kind="test", title="make test_add pass", text="The test fails.", target_tests=[CALC_TARGET],
                labels=[], source="test", slug="test-add")  # fmt: skip
    outcome = run_task(task, root, config, provider=fake, catalog=Catalog.static())
    assert outcome.outcome == "fixed", outcome.explanation
    assert not fake.unanswered()
    requests = by_role(fake)
    assert requests["explorer"] == []  # turned off: no call with its prompt
    (planner,) = requests["planner"]
    assert planner["model"] == "claude-opus-4-6" and planner["output_config"]["effort"] == "medium"
    assert "tools" not in planner  # the planner makes no edits
    first = json.dumps(requests["implementer"][0])
    assert requests["implementer"][0]["model"] == "claude-sonnet-4-6" and PLAN in first
    assert [(a.tier, a.verdict) for a in outcome.attempts] == [("sonnet", "pass")]
    assert any(d.kind == "preset" and "sonnet" in d.choice for d in outcome.decisions)
    assert any(d.kind == "review" and d.choice.startswith("unclear") for d in outcome.decisions)
    assert any(d.choice == "committer: runner's message" for d in outcome.decisions)
    assert git(root, "log", "-1", "--format=%s", outcome.branch).strip() == "fix: make test_add pass"
    calls = [json.loads(x) for x in (Path(outcome.log_dir) / "calls.jsonl").read_text().splitlines()]
    assert [c["role"] for c in calls] == ["planner", "implementer", "implementer", "reviewer", "committer"]
    assert calls[0]["model"] == "claude-opus-4-6" and calls[0]["tier"] == "opus"
    # Money: each role's cost is its calls' usage at the price table, and they add up to the run's.
    prices = PriceTable.load()
    assert outcome.cost_usd == sum((prices.cost(m, u) for m, u in fake.usages), Decimal(0)) > 0
    assert sum(outcome.cost_by_role.values()) == outcome.cost_usd
    assert set(outcome.cost_by_role) == {"planner", "implementer", "reviewer", "committer"}
    for role, cost in outcome.cost_by_role.items():
        assert sum(Decimal(str(c["cost_usd"])) for c in calls if c["role"] == role) == pytest.approx(
            cost, abs=Decimal("0.000001")
        )
    result = json.loads((Path(outcome.log_dir) / "result.json").read_text())
    assert result["cost_by_role"] == outcome.to_json()["cost_by_role"]
    assert "## Cost by role" in (Path(outcome.log_dir) / "summary.md").read_text()
