"""Why a ladder stops: exceptions that carry the outcome they end in.

The ladder raises one of these from wherever the run ends (the baseline, the last attempt of a
tier, a passing attempt); ``run_task`` catches the base class, writes the outcome and saves the
run in ``finally:``. Errors from below (the budget, the API, a config mistake, Ctrl-C, a bug) are
turned into a ``Halted`` by ``halted_by`` so that every exit is written the same way.
"""

from __future__ import annotations

from escalate.errors import EscalateError
from escalate.llm.client import ModelCallError
from escalate.llm.pricing import BudgetExceeded
from escalate.records.types import Decision


class Stop(Exception):
    """The ladder ends with ``outcome``; ``explanation`` is for people, ``decision`` for the log."""

    outcome: str  # fixed | needs_human | cannot_reproduce | budget_exceeded | error

    def __init__(self, explanation: str, decision: Decision, line: str | None = None) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.decision = decision
        self.line = line  # the progress line, when the outcome is said apart from the attempts


class CannotReproduce(Stop):
    """The target tests pass at the base commit: nothing to fix, nothing sent to the API."""

    outcome = "cannot_reproduce"

    def __init__(self, why: str) -> None:
        super().__init__(
            why + ". Nothing was sent to the API.",
            Decision("baseline", "cannot_reproduce", why),
            f"cannot reproduce: {why}",
        )


class Fixed(Stop):
    """An attempt passed validation (and review) and its change is committed on the branch."""

    outcome = "fixed"

    def __init__(self, tier: str, model: str, branch: str, commit: str, diff: str) -> None:
        super().__init__(
            f"Fixed by {tier} ({model}) on branch {branch}.",
            Decision("outcome", "fixed", f"{tier} ({model}) passed validation"),
        )
        self.commit = commit
        self.diff = diff


class NeedsHuman(Stop):
    """The top tier failed: a flag for a human."""

    outcome = "needs_human"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Every tier failed; the last: {reason}.",
            Decision("escalate", "needs_human", reason),
            f"needs a human: {reason}",
        )


class GaveUp(Stop):
    """The evidence says the next tier is not worth its cost (routing.giveup): a flag for a human."""

    outcome = "needs_human"

    def __init__(self, tier: str, reason: str, why: str, data: dict) -> None:
        super().__init__(
            f"Stopped before {tier}: {why}.",
            Decision("give_up", f"stop before {tier}", reason, data),
            f"needs a human: {why}",
        )


class NotReproduced(Stop):
    """An issue without a named test, and no tier wrote a test that fails at base: nothing changed."""

    outcome = "needs_human"

    def __init__(self, why: str) -> None:
        super().__init__(
            f"Could not reproduce the issue: {why}. Nothing was changed.",
            Decision("reproduce", "failed", why),
            f"needs a human: {why}",
        )


class Halted(Stop):
    """The run stopped mid-way; the attempt under way (if any) is recorded as an error at ``stage``."""

    def __init__(
        self, outcome: str, stage: str, reason: str, *, reraise: bool = False, say: bool = True
    ) -> None:
        super().__init__(
            reason, Decision("outcome", outcome, reason), f"{outcome}: {reason}" if say else None
        )
        self.outcome = outcome
        self.stage = stage
        self.reraise = reraise  # the error goes on to the caller once the run is saved


def halted_by(exc: BaseException) -> Halted:
    """The Halted an error from below ends the run with. Budget and API errors are outcomes;
    the rest (a config mistake, Ctrl-C, a bug) are saved and then raised on."""
    if isinstance(exc, BudgetExceeded):
        return Halted("budget_exceeded", "budget", str(exc))
    if isinstance(exc, ModelCallError):
        return Halted("error", "api", str(exc))
    if isinstance(exc, EscalateError):  # the CLI's handler prints it, once
        from escalate.validation.baseline import EnvironmentProblem, ValidationError

        kind = "environment" if isinstance(exc, (EnvironmentProblem, ValidationError)) else "config"
        return Halted("error", kind, str(exc), reraise=True, say=False)
    if isinstance(exc, KeyboardInterrupt):
        why = "interrupted (Ctrl-C or SIGTERM); the worktree was removed"
        return Halted("error", "interrupted", why, reraise=True)
    return Halted("error", "internal", f"internal error: {exc!r}", reraise=True)
