"""The escalation policy: when a tier gets another attempt, when the ladder moves up.

The routing report's rules, made mechanical:
- a tier gets ``max_attempts`` attempts (default 2); "if any tier fails twice, escalate one tier";
- a circular fix escalates at once: the worktree after an attempt is the base again (no change),
  or a state some earlier attempt of this task already produced and validation rejected, or the
  failure signatures within a tier go A -> B -> A;
- the top tier failing is a flag for a human; never de-escalate within a task;
- before each higher tier, an optional ``judge`` (``routing.giveup.decide_climb``) weighs whether
  it is worth paying for; when it is not, the ladder stops for a human there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escalate.routing.giveup import ClimbDecision, Failure

# (next tier index, the lower tiers' last failures) -> whether that tier is worth its cost
ClimbJudge = Callable[[int, list["Failure"]], "ClimbDecision"]

ACCEPT = "accept"
RETRY = "retry"
ESCALATE = "escalate"
GIVE_UP = "give_up"


@dataclass(frozen=True)
class Step:
    """What the ladder does after an attempt, and why."""

    action: str  # ACCEPT | RETRY | ESCALATE | GIVE_UP
    reason: str
    circular: bool = False
    climb: ClimbDecision | None = None  # the judge's verdict before a higher tier, when one was asked


@dataclass
class EscalationPolicy:
    """Tracks one task's attempts across tiers and decides the next step after each one."""

    base_tree: str
    tier_count: int
    tier_index: int = 0
    _tier_attempts: int = 0
    _max_attempts: int = 2
    _seen_trees: dict[str, str] = field(default_factory=dict)  # tree hash -> "tier attempt n"
    _signatures: list[str] = field(default_factory=list)  # this tier's failure signatures
    judge: ClimbJudge | None = None  # routing.giveup.decide_climb for this run; None = always climb
    tier_names: list[str] = field(default_factory=list)
    _failures: list[Failure] = field(default_factory=list)  # one routing.giveup.Failure per tier left
    _last: tuple[str, str] = ("", "")  # (stage, signature) of this tier's last failed attempt

    def enter_tier(self, index: int, max_attempts: int) -> None:
        """Start a tier (a fresh conversation). Moving down the ladder is refused."""
        if index < self.tier_index:
            raise ValueError(f"never de-escalate within a task: tier {index} after tier {self.tier_index}")
        self.tier_index = index
        self._max_attempts = max(1, max_attempts)
        self._tier_attempts = 0
        self._signatures = []

    @property
    def attempts_in_tier(self) -> int:
        return self._tier_attempts

    def circular_reason(self, tree: str) -> str | None:
        """Why a worktree state counts as going in circles, or None. Does not record anything."""
        if tree == self.base_tree:
            return "no change: the worktree is back at the base state"
        if tree in self._seen_trees:
            return f"circular fix: the worktree returned to the state of {self._seen_trees[tree]}"
        return None

    def after_attempt(
        self, label: str, tree: str, passed: bool, signature: str = "", stage: str = ""
    ) -> Step:
        """Record an attempt's outcome (worktree hash, verdict) and decide what comes next.

        ``label`` names the attempt for later reasons, e.g. "haiku attempt 1"; ``stage`` is the
        validation stage that failed it (the give-up judge compares failures across tiers).
        """
        self._tier_attempts += 1
        if passed:
            return Step(ACCEPT, f"{label} passed validation")
        self._last = (stage, signature)
        circular = self.circular_reason(tree)
        self._seen_trees.setdefault(tree, label)
        self._signatures.append(signature)
        if circular is None and _flip_flop(self._signatures):
            circular = "circular fix: failure signatures went A -> B -> A"
        if circular is not None:
            return self._up(circular, circular=True)
        if self._tier_attempts >= self._max_attempts:
            return self._up(f"{self._tier_attempts} failed attempts in this tier", circular=False)
        return Step(RETRY, f"{label} failed; retry in the same conversation with the validation feedback")

    def _up(self, why: str, *, circular: bool) -> Step:
        if self.tier_index + 1 >= self.tier_count:
            return Step(GIVE_UP, f"{why}; the top tier failed, needs a human", circular)
        if self.judge is None:
            return Step(ESCALATE, f"{why}; escalate to the next tier", circular)
        from escalate.routing.giveup import Failure

        name = self.tier_names[self.tier_index] if self.tier_names else str(self.tier_index)
        failures = [*self._failures, Failure(name, *self._last)]
        climb = self.judge(self.tier_index + 1, failures)
        self._failures = failures
        if not climb.climb:
            return Step(GIVE_UP, f"{why}; {climb.reason}", circular, climb)
        return Step(ESCALATE, f"{why}; escalate to the next tier ({climb.reason})", circular, climb)


def _flip_flop(signatures: list[str]) -> bool:
    if len(signatures) < 3:
        return False
    a, b, c = signatures[-3:]
    return bool(a) and a == c and a != b
