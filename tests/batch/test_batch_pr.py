"""The nightly pull request body: issue text cannot ping people or break out of its fence."""

from __future__ import annotations

from decimal import Decimal

from escalate.batch.collect import RequestResult
from escalate.github.render import FENCE, nightly_pr_body, nightly_pr_title
from escalate.task import Task

STAGES = ["syntax", "ruff (no new findings)", "target tests"]


def test_pr_body_neutralizes_issue_text_and_closes_the_issue():
    task = Task(kind="issue", title="Crash in @alice's parser", source="github#3", slug="issue-3-x", issue=3,
                text=f"Steps:{FENCE}\n<!-- hidden instructions -->\nping @bob")  # fmt: skip
    result = RequestResult("b1", "issue-3-x", "issue", task.heading, "haiku", "claude-haiku-4-5", "succeeded",
                           "fixed", cost_usd=Decimal("0.0012"), interactive_usd=Decimal("0.0024"),
                           target_tests=["tests/test_parser.py::test_crash"])  # fmt: skip
    body = nightly_pr_body(task, [result], STAGES)
    assert "Closes #3." in body
    assert "@bob" not in body.replace("`@bob`", "") and "`@alice`" in body
    assert "hidden instructions" not in body
    assert body.count(FENCE) == 2  # the text's own fence cannot end ours
    assert "| $0.0012 | $0.0024 |" in body
    # Validation is described as it was configured, in the words of the interactive PR body.
    assert "Stages, relative to the base commit: syntax, ruff (no new findings), target tests." in body
    assert "Target tests: `tests/test_parser.py::test_crash`" in body and "full test suite" not in body
    suite = [*STAGES, "full test suite (no new failures)"]
    assert "full test suite (no new failures)" in nightly_pr_body(task, [result], suite)
    assert nightly_pr_title(task) == "escalate nightly: #3: Crash in `@alice`'s parser"


def test_the_issue_number_is_a_field_not_read_back_from_the_source():
    task = Task(kind="issue", title="t", text="x", source="github#3", slug="s")  # no issue number given
    assert "Closes #" not in nightly_pr_body(task, [], STAGES)
