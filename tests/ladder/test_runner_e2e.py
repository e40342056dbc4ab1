"""End to end: run_task on a real git repo, real ruff and pytest, the real SDK against the sim."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from samplerepo import (
    CALC_FILES,
    CALC_FIX,
    CALC_TARGET,
    ROLES_OFF,
    git,
    make_calc_repo,
    sample_config,
    snapshot,
)

from escalate.ladder.run import run_task
from escalate.llm.pricing import PriceTable
from escalate.task import Task

EDITOR = "str_replace_based_edit_tool"


def edit(old: str, new: str, path: str = "calc/ops.py") -> dict:
    return {
        "type": "tool_use",
        "name": EDITOR,
        "input": {"command": "str_replace", "path": path, "old_str": old, "new_str": new},
    }


FIX = {"type": "tool_use", "name": EDITOR, "input": {"command": "str_replace", **CALC_FIX}}
WRONG_1 = edit("def add(a, b):\n    return a - b", "def add(a, b):\n    return a * b")
WRONG_2 = edit("def add(a, b):\n    return a * b", "def add(a, b):\n    return b - a")


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


@pytest.fixture
def env(sim, monkeypatch):
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    return sim


def calls_jsonl(outcome) -> list[dict]:
    return [json.loads(x) for x in (Path(outcome.log_dir) / "calls.jsonl").read_text().splitlines()]


def assert_clean(root: Path) -> None:
    """No worktree left, only the user's own."""
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_haiku_fixes_on_the_first_try(tmp_path, env):
    env.set_script({"models": {"claude-haiku-4-5": [turn(FIX), DONE]}})
    root = make_calc_repo(tmp_path)
    outcome = run_task(task(), root, config_for(root))
    assert outcome.outcome == "fixed", outcome.explanation
    assert [(a.tier, a.verdict) for a in outcome.attempts] == [("haiku", "pass")]
    assert outcome.calls == 2 and len(env.messages_requests()) == 2
    assert_clean(root)
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


def test_haiku_fails_twice_then_sonnet_fixes_with_a_hand_over(tmp_path, env):
    env.set_script(
        {
            "models": {
                "claude-haiku-4-5": [turn(WRONG_1), DONE, turn(WRONG_2), DONE],
                "claude-sonnet-4-6": [turn(FIX), DONE],
            }
        }
    )
    root = make_calc_repo(tmp_path)
    outcome = run_task(task(), root, config_for(root))
    assert outcome.outcome == "fixed", outcome.explanation
    assert [(a.tier, a.n, a.verdict) for a in outcome.attempts] == [
        ("haiku", 1, "fail"),
        ("haiku", 2, "fail"),
        ("sonnet", 1, "pass"),
    ]
    assert outcome.attempts[0].stage == "target"
    assert any(d.kind == "escalate" and "haiku -> sonnet" in d.choice for d in outcome.decisions)
    requests = env.messages_requests()
    # Haiku's second attempt continues the same conversation with the validation feedback.
    haiku_3 = requests[2]["body"]
    assert haiku_3["model"] == "claude-haiku-4-5" and len(haiku_3["messages"]) == 5
    assert "failed at the target stage" in json.dumps(haiku_3["messages"][-1])
    # Sonnet starts a new conversation from the base, told what Haiku tried.
    sonnet_1 = requests[4]["body"]
    assert sonnet_1["model"] == "claude-sonnet-4-6" and len(sonnet_1["messages"]) == 1
    first = json.dumps(sonnet_1["messages"][0])
    assert "What earlier attempts tried" in first and "a * b" in first
    # The second Sonnet turn reads the conversation so far from the prompt cache.
    sonnet_calls = [r for r in calls_jsonl(outcome) if r["tier"] == "sonnet"]
    assert sonnet_calls[0]["cache_write_tokens"] > 0
    assert sonnet_calls[1]["cache_read_tokens"] >= sonnet_calls[0]["cache_write_tokens"]
    assert outcome.cost_usd == env.total_cost()
    summary = (Path(outcome.log_dir) / "summary.md").read_text()
    assert "| sonnet | claude-sonnet-4-6 |" in summary and "top tier (claude-opus-4-6)" in summary


def test_an_attempt_without_any_change_escalates_at_once(tmp_path, env):
    env.set_script(
        {
            "models": {
                "claude-haiku-4-5": [{"content": "It looks fine to me. DONE"}],
                "claude-sonnet-4-6": [turn(FIX), DONE],
            }
        }
    )
    root = make_calc_repo(tmp_path)
    outcome = run_task(task(), root, config_for(root))
    assert outcome.outcome == "fixed"
    assert [(a.tier, a.verdict) for a in outcome.attempts] == [("haiku", "circular"), ("sonnet", "pass")]
    assert "no change" in outcome.attempts[0].reason


def test_back_to_an_earlier_state_is_circular(tmp_path, env):
    back = edit("def add(a, b):\n    return b - a", "def add(a, b):\n    return a * b")
    env.set_script(
        {"models": {"claude-haiku-4-5": [turn(WRONG_1), DONE, turn(WRONG_2), DONE, turn(back), DONE]}}
    )
    root = make_calc_repo(tmp_path)
    tiers = [{"name": "haiku", "model": "claude-haiku-4-5", "max_attempts": 5}]  # one tier: the top
    outcome = run_task(task(), root, config_for(root, tiers=tiers, validate={"full_suite": False}))
    assert outcome.outcome == "needs_human"
    assert [a.verdict for a in outcome.attempts] == ["fail", "fail", "circular"]
    assert "haiku attempt 1" in outcome.attempts[2].reason


def test_cannot_reproduce_spends_nothing_and_calls_nothing(tmp_path, env):
    root = make_calc_repo(tmp_path)
    outcome = run_task(task("tests/test_ops.py::test_sub"), root, config_for(root))
    assert outcome.outcome == "cannot_reproduce"
    assert outcome.cost_usd == 0 and outcome.calls == 0 and outcome.attempts == []
    assert env.requests == []  # not even the Models API
    assert outcome.branch is None and "escalate/" not in git(root, "branch", "--list")
    assert_clean(root)


def test_refused_paths_come_back_as_tool_errors(tmp_path, env):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    attacks = [
        edit("keep me", "owned", path="../outside.txt"),
        {
            "type": "tool_use",
            "name": EDITOR,
            "input": {"command": "create", "path": ".git/hooks/pre-commit", "file_text": "#!/bin/sh\n"},
        },
        {
            "type": "tool_use",
            "name": EDITOR,
            "input": {"command": "create", "path": ".escalate.yml", "file_text": "tiers: []\n"},
        },
    ]
    env.set_script(
        {
            "models": {
                "claude-haiku-4-5": [
                    turn(*attacks),
                    {"when": {"last_user_has_tool_result": True}, "content": [FIX]},
                    DONE,
                ]
            }
        }
    )
    root = make_calc_repo(tmp_path)
    outcome = run_task(task(), root, config_for(root))
    assert outcome.outcome == "fixed"
    results = env.messages_requests()[1]["body"]["messages"][-1]["content"]
    assert [r["type"] for r in results] == ["tool_result"] * 3
    assert all(r.get("is_error") for r in results), results
    assert outside.read_text() == "keep me\n"
    changed = git(root, "diff", "--name-only", f"main...{outcome.branch}").split()
    assert changed == ["calc/ops.py"]


def test_dirty_checkout_untouched_preexisting_failures_ignored_secrets_kept_out(tmp_path, env, monkeypatch):
    monkeypatch.setenv("DEPLOY_TOKEN", "hunter2")
    seen = tmp_path / "env-seen.json"
    extra = {
        "tests/test_other.py": "def test_always_broken():\n    assert False, 'broken before escalate'\n",
        "calc/extra.py": "import os\n",  # F401: a lint finding at base
        "tests/test_env.py": (
            "import json\nimport os\n\n\ndef test_env():\n"
            f"    with open({str(seen)!r}, 'w') as fh:\n        json.dump(sorted(os.environ), fh)\n"
        ),
    }
    env.set_script({"models": {"claude-haiku-4-5": [turn(FIX), DONE]}})
    root = make_calc_repo(tmp_path, extra)
    # The user's checkout: staged, unstaged and untracked changes, all to stay byte-identical.
    (root / "calc/ops.py").write_text("# staged\n" + CALC_FILES["calc/ops.py"])
    git(root, "add", "calc/ops.py")
    (root / "calc/ops.py").write_text("# unstaged\n" + CALC_FILES["calc/ops.py"])
    (root / "notes.txt").write_text("untracked\n")
    before = snapshot(root)
    status = git(root, "status", "--porcelain=v2")
    # The unsandboxed mode's name filter: the spy writes outside its tree, which the sandbox forbids.
    outcome = run_task(task(), root, config_for(root, validate={"sandbox": "none"}))
    # A failing test and a lint finding that exist at base never fail an attempt.
    assert outcome.outcome == "fixed", outcome.explanation
    after = {k: v for k, v in snapshot(root).items() if not k.startswith(".escalate/")}
    assert after == before
    assert git(root, "status", "--porcelain=v2") == status  # the run logs are self-ignored
    # The tests ran without the API key or any other secret in their environment.
    names = json.loads(seen.read_text())
    assert names and not {"ANTHROPIC_API_KEY", "DEPLOY_TOKEN"} & set(names)


def test_keep_commits_the_last_attempt_when_not_fixed(tmp_path, env):
    env.set_script({"models": {"*": [turn(WRONG_1), DONE, turn(WRONG_1), DONE]}})
    root = make_calc_repo(tmp_path)
    tiers = [
        {"name": "haiku", "model": "claude-haiku-4-5", "max_attempts": 1},
        {"name": "sonnet", "model": "claude-sonnet-4-6", "max_attempts": 1},
    ]
    outcome = run_task(task(), root, config_for(root, tiers=tiers), keep=True)
    assert outcome.outcome == "needs_human"
    assert [a.verdict for a in outcome.attempts] == ["fail", "circular"]
    assert outcome.branch and outcome.commit
    assert "return a * b" in git(root, "show", f"{outcome.branch}:calc/ops.py")
    assert git(root, "log", "-1", "--format=%s", outcome.branch).startswith("wip:")
    assert_clean(root)


def test_api_error_after_retries_ends_in_error_with_the_request_id(tmp_path, env):
    env.set_script({"faults": [{"on_request": 1, "status": 400}]})
    root = make_calc_repo(tmp_path)
    outcome = run_task(task(), root, config_for(root))
    assert outcome.outcome == "error"
    [request] = env.messages_requests()
    assert request["request_id"] in outcome.explanation and "400" in outcome.explanation
    assert [(a.verdict, a.stage) for a in outcome.attempts] == [("error", "api")]
    result = json.loads((Path(outcome.log_dir) / "result.json").read_text())
    assert result["outcome"] == "error" and result["calls"] == 0
    assert outcome.branch is None and "escalate/" not in git(root, "branch", "--list")
    assert_clean(root)
