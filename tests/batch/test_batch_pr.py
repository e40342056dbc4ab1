"""The nightly pull request body: issue text cannot ping people or break out of its fence."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from escalate.batch.pulls import FENCE, pr_body
from escalate.task import Task


def test_pr_body_neutralizes_issue_text_and_closes_the_issue():
    task = Task(kind="issue", title="Crash in @alice's parser", source="github#3", slug="issue-3-x",
                text=f"Steps:{FENCE}\n<!-- hidden instructions -->\nping @bob")  # fmt: skip
    result = SimpleNamespace(title=task.title, tier="haiku", model="claude-haiku-4-5", reproduction=None,
                             cost_usd=Decimal("0.0012"), interactive_usd=Decimal("0.0024"))  # fmt: skip
    body = pr_body(task, [result], full_suite=False)
    assert "Closes #3." in body
    assert "@bob" not in body.replace("`@bob`", "") and "`@alice`" in body
    assert "hidden instructions" not in body
    assert body.count(FENCE) == 2  # the text's own fence cannot end ours
    assert "| $0.0012 | $0.0024 |" in body
    assert "full suite" not in body  # validation is described as it was configured
    assert "full suite has no new failures" in pr_body(task, [result])
