"""publish: token-free pushes to a real bare remote, the explanation check, Action outputs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from samplerepo import git, make_calc_repo

from escalate.github.render import (
    PushError,
    Report,
    changed_files,
    checked_explanation,
    cost_section,
    pr_body,
    push_branch,
    write_outputs,
)
from escalate.llm.client import CallRecord
from escalate.llm.pricing import PriceTable, Usage
from escalate.records.types import AttemptRecord, Decision, Outcome

TOKEN = "ghs_secretsecretsecret123"


@pytest.fixture
def cloned(tmp_path):
    """A repo whose origin is a local bare repository, as after `actions/checkout`."""
    src = make_calc_repo(tmp_path, name="src")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(src), str(bare))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    git(work, "config", "user.name", "Sample Author")
    git(work, "config", "user.email", "sample@example.com")
    return work, bare


def test_push_with_a_token_leaves_no_trace_in_git_config(cloned):
    work, bare = cloned
    git(work, "checkout", "-q", "-b", "escalate/issue-7")
    (work / "calc" / "ops.py").write_text("def add(a, b):\n    return a + b\n")
    git(work, "commit", "-qam", "fix")
    sha = push_branch(
        work, "escalate/issue-7", "escalate/issue-7", token=TOKEN, server_url="https://github.com"
    )
    assert sha == git(work, "rev-parse", "HEAD").strip()
    assert git(bare, "rev-parse", "refs/heads/escalate/issue-7").strip() == sha
    for config in (work / ".git" / "config", bare / "config"):
        assert TOKEN not in config.read_text()
    assert TOKEN not in git(work, "config", "--list", "--show-origin")


def test_push_runs_no_pre_push_hook_that_could_read_the_token(cloned):
    work, bare = cloned
    seen = work.parent / "hook-env.txt"
    hook = work / ".git" / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\nenv > {seen}\nexit 1\n")
    hook.chmod(0o755)
    git(work, "checkout", "-q", "-b", "escalate/issue-8")
    git(work, "commit", "-q", "--allow-empty", "-m", "fix")
    sha = push_branch(
        work, "escalate/issue-8", "escalate/issue-8", token=TOKEN, server_url="https://github.com"
    )
    assert git(bare, "rev-parse", "refs/heads/escalate/issue-8").strip() == sha
    assert not seen.exists()


def test_rerun_force_pushes_over_the_old_branch(cloned):
    work, bare = cloned
    git(work, "checkout", "-q", "-b", "one")
    git(work, "commit", "-q", "--allow-empty", "-m", "first try")
    push_branch(work, "one", "escalate/issue-7")
    git(work, "checkout", "-q", "-b", "two", "main")
    git(work, "commit", "-q", "--allow-empty", "-m", "second try")  # not a descendant of "one"
    sha = push_branch(work, "two", "escalate/issue-7")
    assert git(bare, "log", "-1", "--format=%s", "escalate/issue-7").strip() == "second try"
    assert sha == git(work, "rev-parse", "two").strip()


PROTECTED = [".github/**", "**/.gitattributes", ".gitmodules", ".escalate.yml"]


@pytest.mark.parametrize(
    "path, text",
    [(".GitHub/workflows/pwn.yml", "on: push\n"), ("pyproject.toml", "[tool.escalate]\nbudget = 99\n")],
)
def test_a_branch_that_changes_a_protected_path_is_never_pushed(cloned, path, text):
    work, bare = cloned
    git(work, "checkout", "-q", "-b", "escalate/issue-9")
    (work / path).parent.mkdir(parents=True, exist_ok=True)
    (work / path).write_text(text)
    (work / "linked").symlink_to("/etc")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "fix")
    git(work, "checkout", "-q", "main")  # as in every flow: the checkout stays on the base
    with pytest.raises(PushError, match="protected paths") as err:
        push_branch(work, "escalate/issue-9", "escalate/issue-9", protected=PROTECTED)
    assert path in str(err.value) and "linked (a symlink" in str(err.value)
    assert "escalate/issue-9" not in git(bare, "branch", "--list")
    git(work, "checkout", "-q", "-b", "escalate/issue-10", "main")
    (work / "calc/ops.py").write_text("def add(a, b):\n    return a + b\n")
    git(work, "commit", "-qam", "a clean fix")
    git(work, "checkout", "-q", "main")
    assert push_branch(work, "escalate/issue-10", "escalate/issue-10", protected=PROTECTED)


def test_push_failure_says_what_git_said(cloned):
    work, _ = cloned
    with pytest.raises(PushError, match="does-not-exist"):
        push_branch(work, "main", "x", remote="does-not-exist")


def test_explanation_keeps_only_claims_about_changed_files():
    diff = "diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n"
    assert changed_files(diff) == ["calc/ops.py"]
    text = (
        "add() subtracted; ops.py now adds.\n"
        "I also hardened calc/security.py against injection.\n"
        "tests/test_ops.py::test_add passes now.\n"
        "No other change."
    )
    kept, dropped = checked_explanation(text, ["calc/ops.py"], ["tests/test_ops.py"])
    assert dropped == 1 and "security" not in kept
    assert "ops.py now adds" in kept and "test_add passes" in kept and "No other change." in kept


def haiku_call(prices: PriceTable) -> CallRecord:
    usage = Usage(input_tokens=10_000, output_tokens=1_000, cache_read=5_000)
    cost = prices.cost("claude-haiku-4-5", usage)
    return CallRecord("run", "haiku", "implementer", "claude-haiku-4-5", 10_000, 1_000, 0, 5_000, 0, cost,
                      "req_1", 0.5, "end_turn", usage=usage)  # fmt: skip


def test_cost_table_and_top_tier_counterfactual():
    prices = PriceTable.load()
    call = haiku_call(prices)
    top = sum((prices.cost("claude-opus-4-6", c.usage) for c in [call]), Decimal(0))
    outcome = Outcome("fixed", cost_usd=call.cost_usd, call_records=[call], top_model="claude-opus-4-6",
                      top_model_cost_usd=top)  # fmt: skip
    text = cost_section(outcome)
    # By hand, $/MTok: haiku 10k*1 + 1k*5 + 5k*0.1 (read); opus-4-6 10k*5 + 1k*25 + 5k*0.5.
    assert "| haiku | `claude-haiku-4-5` | 1 | 10,000 | 1,000 | 0 | 5,000 | $0.0155 |" in text
    assert "**Total: $0.0155** over 1 API call(s)." in text
    assert "(`claude-opus-4-6`) for the same tokens would have cost **$0.0775**" in text


def test_pr_body_renders_the_runs_fields_and_parses_no_prose(tmp_path):
    """Targets, the top tier and its cost come from the Outcome's fields: a decision whose reason
    names other tests changes nothing, and the renderer prices nothing itself."""
    call = haiku_call(PriceTable.load())
    outcome = Outcome(
        "fixed",
        cost_usd=call.cost_usd,
        attempts=[
            AttemptRecord("haiku", "claude-haiku-4-5", 1, "pass", "ok", "all stages passed", call.cost_usd)
        ],
        decisions=[
            Decision("baseline", "targets", "tests failing at base become the targets: tests/t.py::wrong")
        ],
        call_records=[call],
        targets=["tests/test_ops.py::test_add"],
        top_model="a-model-no-price-table-knows",
        top_model_cost_usd=Decimal("1.2345"),
    )
    body = pr_body(outcome, Report(tmp_path, stages=["syntax", "target tests"]), issue=4)
    assert "Target tests: `tests/test_ops.py::test_add`" in body and "`tests/t.py::x`" not in body
    assert "(`a-model-no-price-table-knows`) for the same tokens would have cost **$1.2345**" in body
    assert "Stages, relative to the base commit: syntax, target tests." in body and "Fixes #4" in body


def test_outputs_use_the_heredoc_form(tmp_path):
    out = tmp_path / "out"
    write_outputs({"outcome": "fixed", "pr-url": "https://x/pull/1", "note": "two\nlines"}, str(out))
    lines = out.read_text().splitlines()
    assert (
        lines[0].startswith("outcome<<ghadelim_")
        and lines[1] == "fixed"
        and lines[2] == lines[0].split("<<")[1]
    )
    assert "two" in lines and "lines" in lines
    write_outputs({"x": 1}, None)  # outside Actions: nothing to write, no error


def test_an_unsandboxed_run_is_flagged_in_the_pr_and_the_failure_comment(tmp_path):
    from escalate.github.render import failure_comment

    why = "bubblewrap (bwrap) is not installed; validate.sandbox: auto fell back to none"
    outcome = Outcome("fixed", sandbox="none", sandbox_warning=why)
    body = pr_body(outcome, Report(tmp_path), issue=4)
    assert "Warning: the repository's tests ran without a sandbox" in body and why in body
    comment = failure_comment(Outcome("needs_human", sandbox="none", sandbox_warning=why), Report(tmp_path),
                              pushed_branch=None, push_hint="")  # fmt: skip
    assert "ran without a sandbox" in comment
    sandboxed = pr_body(Outcome("fixed", sandbox="bwrap"), Report(tmp_path), issue=4)
    assert "without a sandbox" not in sandboxed


def test_model_text_posted_to_github_can_neither_hide_text_nor_ping():
    from escalate.github.render import neutralize
    from escalate.untrusted import visible_markdown

    # Escaped in the model's Markdown, `<!--` is shown as text; posted as-is it would open a
    # comment on GitHub and hide the rest of the pull request body (the cost table included).
    said = "Fixed add().\n\n\\<!-- starts a comment in the docs. <!-- note --> Thanks @octocat.\n"
    posted = neutralize(said)
    assert posted == "Fixed add().\n\n\\<!-- starts a comment in the docs.  Thanks `@octocat`.\n"
    assert "$0.01" in visible_markdown(posted + "\n## Cost\n\n$0.01\n")
    unescaped = posted.replace("\\<", "<")  # what posting it without the escape would show
    assert "$0.01" not in visible_markdown(unescaped + "\n## Cost\n\n$0.01\n")
