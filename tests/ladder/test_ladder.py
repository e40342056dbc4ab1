"""The ladder on a real git repo with real ruff and pytest, the model an in-process fake (tests/fakemodel.py).

The runner's own parts are all real (MeteredClient prices each reply's usage with the price table);
only the HTTP API is replaced. The end-to-end runs through the real SDK and the simulator are in
test_runner_e2e.py.
"""

import json
from decimal import Decimal
from pathlib import Path

from fakemodel import FakeModel
from samplerepo import (
    CALC_FILES,
    CALC_TARGET,
    FIX,
    ROLES_OFF,
    WRONG_1,
    WRONG_2,
    calls_jsonl,
    edit,
    git,
    make_calc_repo,
    sample_config,
    snapshot,
    tool,
    worktree_count,
)

from escalate.ladder.run import run_task
from escalate.llm.catalog import Catalog
from escalate.llm.pricing import PriceTable
from escalate.task import Task

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-6"
DONE = "Changed add() in calc/ops.py. DONE"


def attempt(fake: FakeModel, model: str, *edits: dict) -> None:
    """One attempt: the edits with a word, then the summary once the tool results are back."""
    fake.enqueue("Looking at add().", *edits, model=model).enqueue(DONE, model=model)


# The ladder itself, without the helper roles: every queued reply belongs to the implementer.
def config_for(root: Path, **overrides):
    return sample_config(root, {"roles": ROLES_OFF}, overrides)


def task(*tests: str) -> Task:
    tests = tests or (CALC_TARGET,)
    return Task(kind="test", title=f"make {', '.join(tests)} pass", text="The test fails.",
                target_tests=list(tests), labels=[], source="test", slug="test-add")  # fmt: skip


def run(fake: FakeModel, root: Path, config, the_task: Task | None = None, **kw):
    return run_task(the_task or task(), root, config, provider=fake, catalog=Catalog.static(), **kw)


def charged(fake: FakeModel) -> Decimal:
    """What the replies cost by the price table: their usage, priced independently of the runner."""
    prices = PriceTable.load()
    return sum((prices.cost(model, usage) for model, usage in fake.usages), Decimal(0))


def test_haiku_fails_twice_then_sonnet_fixes_with_a_hand_over(tmp_path):
    fake = FakeModel()
    attempt(fake, HAIKU, WRONG_1)
    attempt(fake, HAIKU, WRONG_2)
    attempt(fake, SONNET, FIX)
    root = make_calc_repo(tmp_path)
    outcome = run(fake, root, config_for(root))
    assert outcome.outcome == "fixed", outcome.explanation
    assert [(a.tier, a.n, a.verdict) for a in outcome.attempts] == [
        ("haiku", 1, "fail"),
        ("haiku", 2, "fail"),
        ("sonnet", 1, "pass"),
    ]
    assert outcome.attempts[0].stage == "target"
    assert any(d.kind == "escalate" and "haiku -> sonnet" in d.choice for d in outcome.decisions)
    requests = fake.bodies
    # Haiku's second attempt continues the same conversation with the validation feedback.
    haiku_3 = requests[2]
    assert haiku_3["model"] == "claude-haiku-4-5" and len(haiku_3["messages"]) == 5
    assert "failed at the target stage" in json.dumps(haiku_3["messages"][-1])
    # Sonnet starts a new conversation from the base, told what Haiku tried.
    sonnet_1 = requests[4]
    assert sonnet_1["model"] == "claude-sonnet-4-6" and len(sonnet_1["messages"]) == 1
    first = json.dumps(sonnet_1["messages"][0])
    assert "What earlier attempts tried" in first and "a * b" in first
    # The second Sonnet turn reads the conversation so far from the prompt cache.
    sonnet_calls = [r for r in calls_jsonl(outcome) if r["tier"] == "sonnet"]
    assert sonnet_calls[0]["cache_write_tokens"] > 0
    assert sonnet_calls[1]["cache_read_tokens"] >= sonnet_calls[0]["cache_write_tokens"]
    assert outcome.cost_usd == charged(fake) > 0 and not fake.unanswered()
    summary = (Path(outcome.log_dir) / "summary.md").read_text()
    assert "| sonnet | claude-sonnet-4-6 |" in summary and "top tier (claude-opus-4-6)" in summary


def test_an_attempt_without_any_change_escalates_at_once(tmp_path):
    fake = FakeModel().enqueue("It looks fine to me. DONE", model=HAIKU)
    attempt(fake, SONNET, FIX)
    root = make_calc_repo(tmp_path)
    outcome = run(fake, root, config_for(root))
    assert outcome.outcome == "fixed"
    assert [(a.tier, a.verdict) for a in outcome.attempts] == [("haiku", "circular"), ("sonnet", "pass")]
    assert "no change" in outcome.attempts[0].reason


def test_back_to_an_earlier_state_is_circular(tmp_path):
    back = edit("def add(a, b):\n    return b - a", "def add(a, b):\n    return a * b")
    fake = FakeModel()
    for step in (WRONG_1, WRONG_2, back):
        attempt(fake, HAIKU, step)
    root = make_calc_repo(tmp_path)
    tiers = [{"name": "haiku", "model": "claude-haiku-4-5", "max_attempts": 5}]  # one tier: the top
    outcome = run(fake, root, config_for(root, tiers=tiers, validate={"full_suite": False}))
    assert outcome.outcome == "needs_human"
    assert [a.verdict for a in outcome.attempts] == ["fail", "fail", "circular"]
    assert "haiku attempt 1" in outcome.attempts[2].reason


def test_cannot_reproduce_spends_nothing_and_calls_nothing(tmp_path):
    fake, catalogs = FakeModel(), []
    root = make_calc_repo(tmp_path)
    load = lambda: catalogs.append("asked") or Catalog.static()  # noqa: E731
    outcome = run_task(
        task("tests/test_ops.py::test_sub"), root, config_for(root), provider=fake, catalog=load
    )
    assert outcome.outcome == "cannot_reproduce"
    assert outcome.cost_usd == 0 and outcome.calls == 0 and outcome.attempts == []
    assert fake.bodies == [] and catalogs == []  # not even the Models API
    assert outcome.branch is None and "escalate/" not in git(root, "branch", "--list")
    assert worktree_count(root) == 1  # only the user's own


def test_refused_paths_come_back_as_tool_errors(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    attacks = [
        edit("keep me", "owned", path="../outside.txt"),
        tool("create", path=".git/hooks/pre-commit", file_text="#!/bin/sh\n"),
        tool("create", path=".escalate.yml", file_text="tiers: []\n"),
    ]
    fake = FakeModel().enqueue("Looking at add().", *attacks).enqueue(FIX).enqueue(DONE)
    root = make_calc_repo(tmp_path)
    outcome = run(fake, root, config_for(root))
    assert outcome.outcome == "fixed"
    results = fake.bodies[1]["messages"][-1]["content"]
    assert [r["type"] for r in results] == ["tool_result"] * 3
    assert all(r.get("is_error") for r in results), results
    assert outside.read_text() == "keep me\n"
    changed = git(root, "diff", "--name-only", f"main...{outcome.branch}").split()
    assert changed == ["calc/ops.py"]


def test_dirty_checkout_untouched_preexisting_failures_ignored_secrets_kept_out(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOY_TOKEN", "hunter2")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-not-for-tests")
    seen = tmp_path / "env-seen.json"
    extra = {
        "tests/test_other.py": "def test_always_broken():\n    assert False, 'broken before escalate'\n",
        "calc/extra.py": "import os\n",  # F401: a lint finding at base
        "tests/test_env.py": (
            "import json\nimport os\n\n\ndef test_env():\n"
            f"    with open({str(seen)!r}, 'w') as fh:\n        json.dump(sorted(os.environ), fh)\n"
        ),
    }
    fake = FakeModel()
    attempt(fake, HAIKU, FIX)
    root = make_calc_repo(tmp_path, extra)
    # The user's checkout: staged, unstaged and untracked changes, all to stay byte-identical.
    (root / "calc/ops.py").write_text("# staged\n" + CALC_FILES["calc/ops.py"])
    git(root, "add", "calc/ops.py")
    (root / "calc/ops.py").write_text("# unstaged\n" + CALC_FILES["calc/ops.py"])
    (root / "notes.txt").write_text("untracked\n")
    before = snapshot(root)
    status = git(root, "status", "--porcelain=v2")
    # The unsandboxed mode's name filter: the spy writes outside its tree, which the sandbox forbids.
    outcome = run(fake, root, config_for(root, validate={"sandbox": "none"}))
    # A failing test and a lint finding that exist at base never fail an attempt.
    assert outcome.outcome == "fixed", outcome.explanation
    after = {k: v for k, v in snapshot(root).items() if not k.startswith(".escalate/")}
    assert after == before
    assert git(root, "status", "--porcelain=v2") == status  # the run logs are self-ignored
    # The tests ran without the API key or any other secret in their environment.
    names = json.loads(seen.read_text())
    assert names and not {"ANTHROPIC_API_KEY", "DEPLOY_TOKEN"} & set(names)


def test_keep_commits_the_last_attempt_when_not_fixed(tmp_path):
    fake = FakeModel()
    attempt(fake, HAIKU, WRONG_1)
    attempt(fake, SONNET, WRONG_1)
    root = make_calc_repo(tmp_path)
    tiers = [
        {"name": "haiku", "model": "claude-haiku-4-5", "max_attempts": 1},
        {"name": "sonnet", "model": "claude-sonnet-4-6", "max_attempts": 1},
    ]
    outcome = run(fake, root, config_for(root, tiers=tiers), keep=True)
    assert outcome.outcome == "needs_human"
    assert [a.verdict for a in outcome.attempts] == ["fail", "circular"]
    assert outcome.branch and outcome.commit
    assert "return a * b" in git(root, "show", f"{outcome.branch}:calc/ops.py")
    assert git(root, "log", "-1", "--format=%s", outcome.branch).startswith("wip:")
    assert worktree_count(root) == 1  # only the user's own


def test_an_api_error_ends_in_error_with_the_request_id_and_the_attempt_closed(tmp_path):
    from escalate.llm.protocols import ProviderError

    fake = FakeModel().fail(
        ProviderError("invalid_request_error: bad body", request_id="req_bad1", status=400)
    )
    root = make_calc_repo(tmp_path)
    outcome = run(fake, root, config_for(root))
    assert outcome.outcome == "error"
    assert "bad body" in outcome.explanation  # the provider's message (Anthropic's names the request id)
    [call] = calls_jsonl(outcome)  # the failed try is logged with its request id, at no cost
    assert call["request_id"] == "req_bad1" and call["cost_usd"] == 0
    assert [(a.verdict, a.stage) for a in outcome.attempts] == [("error", "api")]
    result = json.loads((Path(outcome.log_dir) / "result.json").read_text())
    assert result["outcome"] == "error" and result["explanation"] == outcome.explanation
    assert outcome.branch is None and "escalate/" not in git(root, "branch", "--list")
    assert worktree_count(root) == 1  # only the user's own
