"""The nightly job takes an issue without a failing test down the same path as `escalate fix`: its one
answer carries a reproduction test and the fix; the test is judged on the unchanged code first,
committed first, and the fix must make it pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batchrepo import tool_uses
from samplerepo import PYTEST_COMMAND, git, make_repo

from escalate.batch.collect import collect
from escalate.batch.oneshot import TEST_FIRST
from escalate.batch.submit import submit
from escalate.config import load_config
from escalate.github.render import nightly_pr_body, stages
from escalate.task import Task

pytestmark = pytest.mark.slow

FILES = {
    "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n',
    "calc/__init__.py": "",
    "calc/ops.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a + b\n",
    "tests/test_ops.py": "from calc.ops import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}
TEST = {
    "command": "create",
    "path": "tests/test_mul.py",
    "file_text": "from calc.ops import mul\n\n\ndef test_mul_multiplies():\n    assert mul(2, 3) == 6\n",
}
FIX = {"command": "str_replace", "path": "calc/ops.py", "old_str": "def mul(a, b):\n    return a + b",
       "new_str": "def mul(a, b):\n    return a * b"}  # fmt: skip
ISSUE = Task.from_issue_text(
    "mul(2, 3) returns 5; it should return 6.", title="mul() adds instead of multiplying"
)


def nightly(tmp_path, sim, edits: list[dict], issue: Task = ISSUE, **overrides):
    root = make_repo(tmp_path, FILES)
    config = load_config(root, {"validate": {"test_command": PYTEST_COMMAND, "timeout_s": 60}, **overrides})
    provider = sim.provider()
    sub = submit(root, config, provider=provider, issues=[issue])
    [planned] = sub.planned
    sim.set_script({"models": {"*": [{"content": tool_uses(edits), "repeat": True}]}})
    [result] = collect(root, config, provider=provider).results
    return root, planned, result


def test_an_issue_answer_with_a_failing_test_and_its_fix_is_fixed_in_two_commits(tmp_path, sim):
    root, planned, result = nightly(tmp_path, sim, [TEST, FIX])
    assert TEST_FIRST in json.dumps(planned.params["messages"])
    assert result.state == "fixed", result.detail
    assert result.reproduction.tests == ["tests/test_mul.py::test_mul_multiplies"]
    assert result.target_tests == ["tests/test_mul.py::test_mul_multiplies"]
    log = git(root, "log", "--format=%s", f"main..{result.branch}").splitlines()
    assert len(log) == 2 and log[1].startswith("test: reproduce mul() adds")
    first = git(root, "show", "--name-only", "--format=", f"{result.branch}~1").split()
    assert first == ["tests/test_mul.py"]
    assert git(root, "show", "--name-only", "--format=", result.branch).split() == ["calc/ops.py"]
    assert result.to_json()["reproduction"]["files"] == ["tests/test_mul.py"]
    # The evidence travels as with `escalate fix`: the failure at base and the passing run after, in
    # the run's summary and the pull request.
    assert result.reproduction.after_output == "tests/test_mul.py::test_mul_multiplies: passed"
    summary = (Path(result.log_dir) / "summary.md").read_text()
    body = nightly_pr_body(ISSUE, [result], stages(None))
    for text in (summary, body):
        assert "## Reproduction" in text and "assert 5 == 6" in text
        assert "After the fix:" in text and "test_mul_multiplies: passed" in text


def test_a_documentation_issue_is_fixed_without_a_test_and_the_pr_says_so(tmp_path, sim):
    doc = Task.from_issue_text("It says 'adds'; it should say 'multiplies'.", title="Typo in the docstring")
    fix = {"command": "str_replace", "path": "calc/ops.py", "old_str": "def mul(a, b):\n",
           "new_str": 'def mul(a, b):\n    """Multiply a and b."""\n'}  # fmt: skip
    root, planned, result = nightly(tmp_path, sim, [fix], issue=doc)
    assert TEST_FIRST not in json.dumps(planned.params["messages"])
    assert result.state == "fixed", result.detail
    assert result.reproduction is None
    assert result.no_test_reason.startswith("the title is about text, not behaviour")
    summary = (Path(result.log_dir) / "summary.md").read_text()
    for text in (summary, nightly_pr_body(doc, [result], stages(None))):
        assert "## No test proves this change" in text and "the title is about text" in text


@pytest.mark.parametrize(
    ("edits", "why"),
    [
        ([FIX], "reproduce: no test was written"),  # a fix with no test proves nothing
        ([{**TEST, "file_text": TEST["file_text"].replace("== 6", "== 5")}, FIX], "passes on the unchanged"),
    ],
)
def test_an_issue_answer_without_a_reproduction_fails_and_goes_up_a_tier(tmp_path, sim, edits, why):
    _, _, result = nightly(tmp_path, sim, edits)
    assert result.state == "failed" and why in result.detail and result.next_tier
    assert result.branch is None


def test_with_the_test_writer_off_no_test_is_asked_for_and_the_fix_says_so(tmp_path, sim):
    _, planned, result = nightly(tmp_path, sim, [FIX], roles={"test_writer": {"enabled": False}})
    assert TEST_FIRST not in json.dumps(planned.params["messages"])
    assert result.state == "fixed", result.detail
    assert result.reproduction is None and result.no_test_reason == "roles.test_writer.enabled is false"


def test_an_issue_naming_a_test_that_passes_at_base_is_reproduced_as_by_escalate_fix(tmp_path, sim):
    """Its named test is no target (it passes at base): the answer must carry a reproduction, as the
    interactive path would write one."""
    named = Task.from_issue_text(
        "mul(2, 3) returns 5; tests/test_ops.py::test_add passes, mul has no test.",
        title="mul() adds instead of multiplying",
    )
    _, planned, result = nightly(tmp_path, sim, [TEST, FIX], issue=named)
    assert TEST_FIRST in json.dumps(planned.params["messages"])
    assert result.state == "fixed", result.detail
    assert result.reproduction.tests == ["tests/test_mul.py::test_mul_multiplies"]
    assert result.no_test_reason is None
