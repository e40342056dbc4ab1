"""Roles end to end: run_task on a real git repo with real ruff and pytest, the real SDK against the
sim, each role's system prompt scripted with its own answers (``when: {system_contains: ...}``)."""

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from samplerepo import CALC_TARGET, FIX, PYTEST_COMMAND, calls_jsonl, git, make_calc_repo, sample_config, tool

from escalate.ladder.run import run_task
from escalate.task import Task

pytestmark = pytest.mark.slow  # end to end: the real SDK against the simulated API

IMPLEMENTER = "careful software engineer"
EXPLORER = "You are the explorer"
PLANNER = "You are the planner"
REVIEWER = "You are the code reviewer"
COMMITTER = "You are the commit message writer"
PLAN = "PLAN-7f3: add() in calc/ops.py subtracts; make it return a + b and touch nothing else."


def entry(system: str, content, **when) -> dict:
    return {"when": {"system_contains": system, **when}, "content": content}


def implementer(*edits: dict) -> list[dict]:
    """One attempt: the edits, then a summary once the tool results are back."""
    return [
        entry(
            IMPLEMENTER, [{"type": "text", "text": "Editing add()."}, *edits], last_user_has_tool_result=False
        ),
        entry(IMPLEMENTER, "Changed add() in calc/ops.py to add. DONE", last_user_has_tool_result=True),
    ]


def config_for(root: Path, roles: dict | None = None, **overrides):
    return sample_config(root, {"validate": {"full_suite": False}, "roles": roles or {}}, overrides)


def task(**kw) -> Task:
    fields = dict(kind="test", title="make test_add pass", text="The test fails.", target_tests=[CALC_TARGET],
                  labels=[], source="test", slug="test-add")  # fmt: skip
    return Task(**{**fields, **kw})


def system_of(request: dict) -> str:
    system = request["body"]["system"]
    return system if isinstance(system, str) else "".join(b["text"] for b in system)


def by_role(env) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for name, marker in (("explorer", EXPLORER), ("planner", PLANNER), ("implementer", IMPLEMENTER),
                         ("reviewer", REVIEWER), ("committer", COMMITTER)):  # fmt: skip
        out[name] = [r for r in env.messages_requests() if marker in system_of(r)]
    return out


def assert_cost_by_role_adds_up(outcome, env) -> dict:
    result = json.loads((Path(outcome.log_dir) / "result.json").read_text())
    assert result["cost_by_role"] == outcome.to_json()["cost_by_role"]
    per_role = {role: Decimal(str(v)) for role, v in result["cost_by_role"].items()}
    assert sum(outcome.cost_by_role.values()) == outcome.cost_usd == env.total_cost()
    assert sum(per_role.values()) == pytest.approx(Decimal(str(result["cost_usd"])), abs=Decimal("0.000005"))
    calls = calls_jsonl(outcome)
    for role, cost in outcome.cost_by_role.items():
        assert sum(Decimal(str(c["cost_usd"])) for c in calls if c["role"] == role) == pytest.approx(
            cost, abs=Decimal("0.000001")
        )
    assert "## Cost by role" in (Path(outcome.log_dir) / "summary.md").read_text()
    return per_role


def test_single_preset_from_the_cli_is_one_model_without_roles_or_escalation(tmp_path, env, capsys):
    from escalate.cli.main import main

    wrong = tool(
        "str_replace",
        path="calc/ops.py",
        old_str="return a - b\n\n\ndef sub",
        new_str="return a * b\n\n\ndef sub",
    )
    env.set_script(
        {
            "models": {
                "claude-haiku-4-5": implementer(wrong),
                "claude-sonnet-4-6": implementer(FIX),
            }
        }
    )
    config = {
        "validate": {"test_command": PYTEST_COMMAND, "ruff_command": [sys.executable, "-m", "ruff", "check"],
                     "full_suite": False},
        "tiers": [{"name": "haiku", "model": "claude-haiku-4-5", "max_attempts": 1},
                  {"name": "sonnet", "model": "claude-sonnet-4-6"}],
    }  # fmt: skip
    root = make_calc_repo(tmp_path, {".escalate.yml": json.dumps(config)})  # JSON is YAML
    code = main(["fix", CALC_TARGET, "--repo", str(root), "--preset", "single", "--json", "-q"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["outcome"] == "needs_human"
    assert [(a["tier"], a["verdict"]) for a in result["attempts"]] == [("haiku", "fail")]
    assert {r["body"]["model"] for r in env.messages_requests()} == {"claude-haiku-4-5"}
    assert all(IMPLEMENTER in system_of(r) for r in env.messages_requests())
    assert list(result["cost_by_role"]) == ["implementer"]
    assert result["cost_by_role"]["implementer"] == result["cost_usd"] > 0
    assert any(d["kind"] == "preset" and d["choice"].startswith("single") for d in result["decisions"])
    assert any(d["kind"] == "roles" and d["choice"] == "none" for d in result["decisions"])


def test_ladder_defaults_degrade_when_roles_get_plain_answers(tmp_path, env):
    """The default ladder on an issue with no traceback: the explorer runs (its plain answer adds
    nothing), the reviewer and commit writer answer plainly too; the fix still lands."""
    env.set_script({"models": {"claude-haiku-4-5": implementer(FIX)}})
    root = make_calc_repo(tmp_path)
    # The issue names its failing test, so it is the target (no reproduction test first).
    text = "calc.add(2, 3) returns -1: tests/test_ops.py::test_add fails."
    issue = task(kind="issue", title="add() subtracts", text=text, target_tests=[])
    outcome = run_task(issue, root, config_for(root))
    assert outcome.outcome == "fixed", outcome.explanation
    requests = by_role(env)
    assert (
        len(requests["explorer"]) == 1 and len(requests["reviewer"]) == 1 and len(requests["committer"]) == 1
    )
    assert requests["planner"] == []  # a standard fix: no plan
    assert "Where to look" not in json.dumps(requests["implementer"][0]["body"]["messages"][0])
    kinds = {(d.kind, d.choice.split(":")[0]) for d in outcome.decisions}
    assert {("role", "explorer"), ("review", "unclear"), ("role", "committer")} <= kinds
    assert any(d.choice == "planner: skipped" for d in outcome.decisions)
    # The repository map is cached in the user's repo, outside the worktree.
    assert list((root / ".escalate" / "cache").iterdir())
    assert git(root, "status", "--porcelain") == ""
