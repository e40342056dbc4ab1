"""Can a test prove this issue's fix? Decided before any model call, from the issue and its labels.

An issue without a named failing test is reproduced first: a test writer writes a test that fails
at base for the reason the issue gives, and the fix must make it pass (SWE-bench's FAIL_TO_PASS).
Some issues have no behaviour to test: documentation, typos, wording, configuration. Those are
judged by the suite, lint and the reviewer, and the PR says plainly that no test proves them.

The signals: a bug label (``bug``, ``regression``) always means a test; a label (``documentation``,
``typo``, ``config``, ``ci``, ...), or words in the title that say the problem is text (``typo``,
``docstring``, ``README``...), a message's wording (``error message``...) or configuration
(``pyproject``, ``CI workflow``, ``pre-commit``...) with none that say a behaviour is wrong
(``raises``, ``crash``, ``instead of``...). The body is not read for this: a bug report often
quotes a docstring ("the docstring promises shares that sum to the bill") about behaviour that is
wrong. Anything else is reproduced: a needless reproduction costs one test writer call, a missed
one leaves a fix unproven.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from escalate.routing.rules import matched
from escalate.task import named_tests
from escalate.validation.junit import selects

if TYPE_CHECKING:
    from escalate.task import Task

NO_TEST_LABELS = frozenset({
    "documentation", "docs", "doc", "typo", "typos", "spelling", "wording", "copy", "readme",
    "changelog", "chore", "config", "configuration", "ci", "dependencies",
})  # fmt: skip
# A label that says behaviour is wrong wins over everything else: "a typo in the settings path
# silently starts the service with defaults" is a bug, whatever its title's words.
BUG_LABELS = frozenset({"bug", "regression", "defect", "crash", "type: bug", "kind/bug"})
# Words that say what is wrong is text or settings, not behaviour.
NO_TEST_WORDS = (
    "typo*", "docstring*", "documentation", "docs", "readme", "spelling", "misspell*", "grammar",
    "wording", "changelog", "comment*", "broken link*", "dead link*", "rst", "sphinx", "mkdocs",
)  # fmt: skip
# What a message says (its wording), not whether it is raised: "the error message says 'recieved'".
MESSAGE_WORDS = ("error message*", "warning message*", "log message*", "help text", "message wording")
# Settings and tooling files: what they say is configuration, not the code's behaviour.
CONFIG_WORDS = (
    "pyproject*", "setup.cfg", "tox.ini", "ci config*", "ci workflow*", "github action*", "workflow file*",
    "pre-commit", "dependabot", "classifier*", "editorconfig", "gitignore",
)  # fmt: skip
# Words that say a behaviour is wrong: they win over the words above in the same title.
BEHAVIOUR_WORDS = (
    "raise*", "crash*", "exception", "traceback", "returns", "return value", "wrong result",
    "incorrect*", "instead of", "expected", "regression", "fails", "bug",
)  # fmt: skip


def named_targets(task: Task, failing: set[str]) -> list[str]:
    """An issue's targets: the tests failing at base that its text names (``tests/t.py::test_x``).
    The base's other failures are pre-existing, never an issue's targets."""
    named = named_tests(f"{task.title}\n{task.text}")
    return sorted(t for t in failing if any(t == n or selects(n, t) for n in named))


@dataclass(frozen=True)
class Testability:
    """Whether the runner writes a reproduction test first, and why (a decision's reason)."""

    reproduce: bool
    reason: str


def testability(task: Task, writer_enabled: bool = True) -> Testability:
    """For an issue without named tests; other tasks have their test (or their findings) already.
    ``writer_enabled``: ``roles.test_writer.enabled`` (off: no issue is reproduced, and that is why)."""
    if task.kind != "issue" or task.target_tests:
        return Testability(False, "the task names its failing tests")
    found = _testability(task)
    if found.reproduce and not writer_enabled:
        return Testability(False, "roles.test_writer.enabled is false")
    return found


def _testability(task: Task) -> Testability:
    bug = sorted(label for label in task.labels if label.lower() in BUG_LABELS)
    if bug:
        return Testability(True, f"labelled {', '.join(repr(x) for x in bug)}: reproduce it with a test")
    labels = sorted(label for label in task.labels if label.lower() in NO_TEST_LABELS)
    if labels:
        return Testability(False, f"labelled {', '.join(repr(x) for x in labels)}: no behaviour to test")
    if matched(BEHAVIOUR_WORDS, task.title):
        return Testability(True, "an issue without a named failing test: reproduce it with a test first")
    for words, about in ((NO_TEST_WORDS, "text"), (MESSAGE_WORDS, "a message's wording"),
                         (CONFIG_WORDS, "configuration")):  # fmt: skip
        found = matched(words, task.title)
        if found:
            quoted = ", ".join(repr(w) for w in found)
            return Testability(False, f"the title is about {about}, not behaviour ({quoted})")
    return Testability(True, "an issue without a named failing test: reproduce it with a test first")
