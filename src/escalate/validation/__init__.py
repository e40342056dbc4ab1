"""Is a patch an improvement by the repository's own standards: the baseline and the staged checks.

The seams, and what crosses them: ``BaselineFacts`` (what the base commit was measured to be),
``Judgement`` (what is said about one attempt: validation's ``stages.Verdict``, a reviewer's
``roles.review.Rejection``, the ladder's own verdicts on a refusal or a circular state) and
``Validator`` (``stages.validate``: a tree, its changes and the baseline in, a judgement out).
A ``Stage`` is one check of an ``Attempt``; ``stages.STAGES`` lists them in the order they run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from escalate.config import ValidateConfig
    from escalate.validation.baseline import Baseline
    from escalate.validation.stages import Verdict
    from escalate.validation.suite_ahead import SuiteAhead


class BaselineFacts(Protocol):
    """What the ladder and the router read of the untouched base, measured once (``baseline.Baseline``)."""

    failing_tests: set[str]  # node ids failing at base: never held against an attempt
    target_failures: dict[str, str]  # node id -> failure text, for each target failing at base

    def reproduces(self, target_tests: list[str]) -> bool:
        """True when at least one target fails at base (always True without targets)."""
        ...


class Judgement(Protocol):
    """The verdict on one attempt; ``stage`` is where it failed, or "ok"."""

    @property
    def passed(self) -> bool: ...
    @property
    def stage(self) -> str: ...
    @property
    def reason(self) -> str: ...  # one line, for people
    @property
    def feedback(self) -> str: ...  # for the model's next attempt
    @property
    def signature(self) -> str: ...  # equal for the same failure after different patches
    @property
    def duration_s(self) -> float: ...


class Validator(Protocol):
    """Judges a worktree against the baseline: ``stages.validate``."""

    def __call__(
        self,
        root: Path,
        changed: list[str],
        baseline: Baseline,
        target_tests: list[str],
        cfg: ValidateConfig,
        *,
        notify: Callable[[str], None] | None = None,
    ) -> Judgement: ...


@dataclass(frozen=True)
class Attempt:
    """What every stage is given: the patched tree, what changed, the targets, the baseline."""

    root: Path
    changed: list[str]
    py_files: list[str]  # the changed Python files that exist
    targets: list[str]
    baseline: Baseline
    cfg: ValidateConfig
    notify: Callable[[str], None] | None = None  # progress lines (a flaky test, a hang)
    suite_ahead: SuiteAhead | None = None  # the suite's first run, started beside the targets' run


def _always(_: object) -> bool:
    return True


@dataclass(frozen=True)
class Stage:
    """One validation stage: validation runs ``check``, the PR body names ``title``, and
    docs/validation.md shows ``runs`` and ``fails_when``, all read from ``stages.STAGES``."""

    name: str  # the Verdict's stage when it fails
    title: str  # as a reader names it in a PR body
    runs: str  # what runs (Markdown)
    fails_when: str  # (Markdown)
    check: Callable[[Attempt], Verdict | None]  # None: passed
    configured: Callable[[ValidateConfig], bool] = _always  # the config turns it on
    applies: Callable[[Attempt], bool] = _always  # this attempt gives it something to check
    # The full suite's first run may start while this stage runs (validation.suite_ahead); a stage that
    # fails in an instant and runs nothing (syntax) does not start it.
    starts_suite: bool = True
