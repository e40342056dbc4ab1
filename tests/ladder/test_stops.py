"""How the ladder's stops map errors from below onto outcomes (the runs themselves: test_runner_e2e)."""

import pytest

from escalate.errors import ConfigError, EscalateError
from escalate.ladder.stops import CannotReproduce, Fixed, Halted, NeedsHuman, Stop, halted_by
from escalate.llm.client import ModelCallError
from escalate.llm.pricing import BudgetExceeded
from escalate.validation.baseline import ValidationError


@pytest.mark.parametrize(
    ("exc", "outcome", "stage", "reraise"),
    [
        (BudgetExceeded(1, 1, 1), "budget_exceeded", "budget", False),
        (ModelCallError("the API answered 400"), "error", "api", False),  # an EscalateError too
        (ConfigError("tiers: bad"), "error", "config", True),
        (EscalateError("no worktree"), "error", "config", True),
        (ValidationError("the suite did not finish at base"), "error", "environment", True),
        (KeyboardInterrupt(), "error", "interrupted", True),
        (ValueError("a bug"), "error", "internal", True),
    ],
)
def test_errors_from_below_halt_with_an_outcome_and_only_the_unexpected_go_on(exc, outcome, stage, reraise):
    halted = halted_by(exc)
    assert isinstance(halted, Stop)
    assert (halted.outcome, halted.stage, halted.reraise) == (outcome, stage, reraise)
    assert halted.decision.kind == "outcome" and halted.decision.choice == outcome
    # A config error is printed once, by the CLI's handler: not as a progress line too.
    assert halted.line == (None if stage in ("config", "environment") else f"{outcome}: {halted.explanation}")


def test_every_stop_carries_its_outcome_and_decision():
    fixed = Fixed("haiku", "claude-haiku-4-5", "escalate/x", "abc123", "diff")
    assert (fixed.outcome, fixed.commit, fixed.diff, fixed.line) == ("fixed", "abc123", "diff", None)
    assert fixed.explanation == "Fixed by haiku (claude-haiku-4-5) on branch escalate/x."
    needs = NeedsHuman("opus attempt 2 failed")
    assert needs.outcome == "needs_human" and needs.decision.kind == "escalate"
    assert needs.explanation == "Every tier failed; the last: opus attempt 2 failed."
    cannot = CannotReproduce("the target test(s) pass at the base commit: t")
    assert cannot.outcome == "cannot_reproduce" and cannot.decision.kind == "baseline"
    assert cannot.explanation.endswith("Nothing was sent to the API.")
    assert Halted("error", "api", "x").outcome == "error"
