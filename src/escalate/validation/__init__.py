"""Is a patch an improvement by the repository's own standards: the baseline and the staged checks.

The seams, and what crosses them: ``BaselineFacts`` (what the base commit was measured to be),
``Judgement`` (what is said about one attempt: validation's ``stages.Verdict``, a reviewer's
``roles.review.Rejection``, the ladder's own verdicts on a refusal or a circular state) and
``Validator`` (``stages.validate``: a tree, its changes and the baseline in, a judgement out).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from escalate.config import ValidateConfig
    from escalate.validation.baseline import Baseline


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
