"""The crew in a run, on the in-process fake model (tests/fakemodel.py): which roles are asked, on which
model, with which system prompt, and what their answers change. Real git, ruff and pytest; the runs
through the real SDK and the simulator are in test_roles_e2e.py."""

import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from fakemodel import FakeModel
from samplerepo import CALC_TARGET, FIX, calls_jsonl, git, make_calc_repo, sample_config, tool

from escalate.github.render import model_summary
from escalate.ladder.run import run_task
from escalate.llm.catalog import Catalog
from escalate.llm.pricing import PriceTable
from escalate.records.console import Progress
from escalate.task import Task


def config_for(root, roles: dict | None = None):
    return sample_config(root, {"validate": {"full_suite": False}, "roles": roles or {}})


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


DONE = "Changed add() in calc/ops.py to add. DONE"


def task() -> Task:
    return Task(kind="test", title="make test_add pass", text="The test fails.", target_tests=[CALC_TARGET],
                labels=[], source="test", slug="test-add")  # fmt: skip


def cost_by_role_adds_up(outcome, fake: FakeModel) -> dict:
    """Each role's cost is its calls' usage at the price table; the roles add up to the run's cost."""
    prices = PriceTable.load()
    assert outcome.cost_usd == sum((prices.cost(m, u) for m, u in fake.usages), Decimal(0)) > 0
    assert sum(outcome.cost_by_role.values()) == outcome.cost_usd
    calls = calls_jsonl(outcome)
    for role, cost in outcome.cost_by_role.items():
        logged = [Decimal(str(c["cost_usd"])) for c in calls if c["role"] == role]
        # calls.jsonl stores each call's cost rounded to 1e-6 dollars: the sum is off by half that per call.
        assert sum(logged) == pytest.approx(cost, abs=Decimal("0.0000005") * len(logged))
    result = json.loads((Path(outcome.log_dir) / "result.json").read_text())
    assert result["cost_by_role"] == outcome.to_json()["cost_by_role"]
    assert "## Cost by role" in (Path(outcome.log_dir) / "summary.md").read_text()
    return outcome.cost_by_role


def test_ladder_explorer_reviewer_and_commit_writer(tmp_path):
    """The explorer's files shape the first message; a review rejection is a failed attempt whose
    findings come back as feedback; the commit message is the commit writer's."""
    explored = (
        'Found it.\n```json\n[{"path": "calc/ops.py", "symbols": ["add"],'
        ' "why": "EXPLORED-9c1 add subtracts"}, {"path": "calc/ghost.py", "why": "made up"}]\n```'
    )
    docstring = tool(
        "str_replace",
        path="calc/ops.py",
        old_str="def add(a, b):\n",
        new_str='def add(a, b):\n    """Add."""\n',
    )
    commit = "fix: make add() add instead of subtract\n\nadd() in calc/ops.py returned a - b; now a + b."
    fake = FakeModel()
    # The explorer views, tries an edit (refused: read-only), then names one real and one invented file.
    fake.enqueue(tool("view", path="calc/ops.py"), FIX, role="explorer").enqueue(explored, role="explorer")
    fake.enqueue("Editing add().", FIX, role="implementer").enqueue(DONE, role="implementer")
    fake.enqueue("REJECT\n- calc/ops.py: FINDING-4b2 add() has no docstring saying it adds", role="reviewer")
    fake.enqueue("Editing add().", docstring, role="implementer").enqueue(DONE, role="implementer")
    fake.enqueue("APPROVE", role="reviewer").enqueue(commit, role="committer")
    root = make_calc_repo(tmp_path)
    shown = io.StringIO()
    config = config_for(root, {"explorer": {"when_localised": True}})
    outcome = run_task(
        task(), root, config, progress=Progress(shown), provider=fake, catalog=Catalog.static()
    )
    assert outcome.outcome == "fixed", outcome.explanation
    roles = by_role(fake)
    assert not fake.unanswered()
    assert [len(roles[r]) for r in ("explorer", "planner", "implementer", "reviewer", "committer")] == [
        2,
        0,
        4,
        2,
        1,
    ]
    # The explorer's edit was refused and changed nothing.
    refused = roles["explorer"][1]["messages"][-1]["content"]
    assert [r.get("is_error", False) for r in refused] == [False, True] and "read-only" in json.dumps(refused)
    # Its file list reaches the implementer's first message; the invented file does not.
    first = json.dumps(roles["implementer"][0]["messages"][0])
    assert "EXPLORED-9c1" in first and "calc/ghost.py" not in first
    assert any(
        d.kind == "role" and "explorer: files" in d.choice and "ghost" in d.reason for d in outcome.decisions
    )
    # The rejection is attempt 1, stage review; its findings are attempt 2's feedback.
    assert [(a.n, a.verdict, a.stage) for a in outcome.attempts] == [(1, "fail", "review"), (2, "pass", "ok")]
    assert "FINDING-4b2" in outcome.attempts[0].reason
    assert outcome.attempts[0].duration_s > 0  # the validation that ran before the review
    assert "FINDING-4b2" in json.dumps(roles["implementer"][2]["messages"][-1])
    # The reviewer reads the diff, and thinks (Haiku + extended thinking).
    assert "return a + b" in json.dumps(roles["reviewer"][0]["messages"])
    assert roles["reviewer"][0]["thinking"]["type"] == "enabled"
    assert "tools" not in roles["reviewer"][0] and "tools" not in roles["committer"][0]
    message = git(root, "log", "-1", "--format=%B", outcome.branch)
    assert message.startswith("fix: make add() add instead of subtract\n\nMakes these failing tests pass:")
    assert (
        "returned a - b; now a + b." in message
        and "Escalated-by: escalate (haiku/claude-haiku-4-5)" in message
    )
    # The pull request's "what changed and why" is the commit writer's body.
    assert model_summary(root, outcome.commit) == "add() in calc/ops.py returned a - b; now a + b."
    # Every role's calls carry its name, and the money adds up.
    assert [c["role"] for c in calls_jsonl(outcome)] == ["explorer"] * 2 + ["implementer"] * 2 + [
        "reviewer"
    ] + ["implementer"] * 2 + ["reviewer", "committer"]
    assert set(cost_by_role_adds_up(outcome, fake)) == {
        "explorer",
        "implementer",
        "reviewer",
        "committer",
    }
    # What a person watching sees: the explorer's files, the verdicts, the roles' cost apart from the tiers'.
    said = shown.getvalue()
    assert (
        "explorer (claude-haiku-4-5): calc/ops.py" in said and "reviewer (claude-haiku-4-5): reject" in said
    )
    roles_line = next(line for line in said.splitlines() if line.startswith("roles: "))
    assert [part.split()[0] for part in roles_line[7:].split(", ")] == ["explorer", "reviewer", "committer"]
    with sqlite3.connect(root / ".escalate" / "ledger.db") as db:  # the ledger's calls carry the role too
        ledger_roles = [row[0] for row in db.execute("SELECT role FROM calls ORDER BY id")]
    assert ledger_roles == [c["role"] for c in calls_jsonl(outcome)]


def test_plan_execute_plans_on_opus_and_implements_on_sonnet(tmp_path):
    """Unqueued reviewer and commit writer get a plain answer: the review is recorded as unclear
    (not blocking), the commit message falls back to the runner's."""
    fake = FakeModel().enqueue(PLAN, role="planner", model="claude-opus-4-6")
    fake.enqueue("Editing add().", FIX, role="implementer", model="claude-sonnet-4-6")
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
        logged = [Decimal(str(c["cost_usd"])) for c in calls if c["role"] == role]
        # calls.jsonl stores each call's cost rounded to 1e-6 dollars: the sum is off by half that per call.
        assert sum(logged) == pytest.approx(cost, abs=Decimal("0.0000005") * len(logged))
    result = json.loads((Path(outcome.log_dir) / "result.json").read_text())
    assert result["cost_by_role"] == outcome.to_json()["cost_by_role"]
    assert "## Cost by role" in (Path(outcome.log_dir) / "summary.md").read_text()
