"""Learning from outcomes: move a task class's start tier when the ledger shows it pays.

The routing report's Strategist: "track which model-task pairings produce
successful outcomes and use this data to continuously refine routing". For one
task class (complexity/error cost) the ledger gives, per tier, how many tasks
reached it, how many it solved and what it spent on them. Starting at tier s,
a task reaches tier t with P(reach t) = prod over s <= u < t of (1 - p_u), so

    E[cost | start s]  = sum over t >= s of P(reach t) * mean_cost(t)
    P(solve | start s) = 1 - prod over t >= s of (1 - p_t)

and the start with the lowest E[cost] / P(solve), the expected cost per solved
task, wins. Failed cheap attempts count: that is exactly what makes a low
success rate on Haiku expensive. A tier with no history ends the sum (its
tasks count as unsolved and free), the same for every candidate.

Guard rails: a start needs ``router.min_history`` tasks of history on its own
tier; it must beat the rule-based start by ``router.learning_margin``; a
high-error-cost class never starts below its rule tier; ``router.learning:
false`` turns all of it off.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from escalate.records.ledger import Ledger, TierVisit
from escalate.routing.rules import Classification


@dataclass(frozen=True)
class TierEstimate:
    """One tier's history for one task class."""

    tier: str
    tasks: int  # tasks of the class that reached this tier
    solved: int  # ... and passed validation on it
    cost_usd: float  # everything spent on this tier for those tasks

    @property
    def success_rate(self) -> float:
        return self.solved / self.tasks if self.tasks else 0.0

    @property
    def mean_cost(self) -> float:
        """Mean spend per task on this tier (all its attempts, failed ones included)."""
        return self.cost_usd / self.tasks if self.tasks else 0.0


@dataclass(frozen=True)
class StartChoice:
    """The start tier after consulting history, and why."""

    index: int
    name: str
    reason: str
    used_history: bool  # enough history to compare starts
    moved: bool  # history moved the start away from the rule-based tier
    estimates: list[TierEstimate] = field(default_factory=list)
    per_success: dict[str, float] = field(default_factory=dict)  # start tier -> expected $ per solved task


def tier_estimates(visits: Iterable[TierVisit], tier_names: Sequence[str]) -> list[TierEstimate]:
    """Per-tier estimates, in ladder order, from the ledger's tier visits (other tiers ignored)."""
    counts = {name: [0, 0, 0.0] for name in tier_names}
    for v in visits:
        if v.tier in counts:
            c = counts[v.tier]
            c[0] += 1
            c[1] += int(v.solved)
            c[2] += v.cost_usd
    return [TierEstimate(name, c[0], c[1], round(c[2], 6)) for name, c in counts.items()]


def expected_cost(estimates: Sequence[TierEstimate], start: int) -> tuple[float, float]:
    """(expected cost, probability of a fix) when the ladder starts at `start`."""
    reach, cost = 1.0, 0.0
    for est in estimates[start:]:
        if est.tasks == 0:
            break  # no history: this tier cannot be priced; stop here for every candidate alike
        cost += reach * est.mean_cost
        reach *= 1.0 - est.success_rate
    return cost, 1.0 - reach


def cost_per_success(estimates: Sequence[TierEstimate], start: int) -> float:
    """Expected cost per solved task from `start`; infinity when nothing from there ever solved."""
    cost, p_solve = expected_cost(estimates, start)
    return cost / p_solve if p_solve > 0 else math.inf


def usd(value: float) -> str:
    """Dollars for a reason sentence: cents, or tenths of a cent below one cent."""
    if math.isinf(value):
        return "unbounded (never solved)"
    return f"${value:.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def _tier_name(tier: Any) -> str:
    return tier if isinstance(tier, str) else tier.name


def choose_start(
    ledger: Ledger | None,
    klass: Classification,
    tiers: Sequence[Any],
    rule_start: int,
    cfg: Any,
    *,
    models: Mapping[str, str] | None = None,
) -> StartChoice:
    """The start tier for `klass`: the rule-based `rule_start`, or a cheaper one by the ledger's history.

    `tiers` are the ladder's tiers (``TierConfig``s or names), cheapest first; `cfg`
    is ``config.RouterConfig``; `models` maps tier name -> the model id it resolves
    to now, so history made by an older model of a tier does not count.
    """
    names = [_tier_name(t) for t in tiers]
    rule = names[rule_start]
    label = klass.label

    def keep(reason: str, **kw: Any) -> StartChoice:
        return StartChoice(rule_start, rule, reason, moved=False, **({"used_history": False} | kw))

    if not cfg.learning:
        return keep(f"router.learning is off: rule-based start at {rule}")
    if ledger is None:
        return keep(f"no ledger (ledger.enabled is false): rule-based start at {rule}")

    visits = ledger.tier_visits(klass.complexity, klass.error_cost, models=models)
    past = len({v.run_id for v in visits})
    if past < cfg.min_history:
        return keep(
            f"only {past} past {label} task(s) in the ledger, {cfg.min_history} needed (router.min_history): "
            f"rule-based start at {rule}"
        )

    estimates = tier_estimates(visits, names)
    history = "; ".join(
        f"{e.tier} solved {e.solved}/{e.tasks} {label} tasks ({e.success_rate:.0%}), "
        f"{usd(e.mean_cost)} per task there"
        for e in estimates
        if e.tasks
    )
    lowest = rule_start if klass.error_cost == "high" else 0  # high error cost: never start below the rules
    candidates = [s for s in range(lowest, len(names)) if estimates[s].tasks >= cfg.min_history]
    per_success = {names[s]: cost_per_success(estimates, s) for s in candidates}
    kw = {"used_history": True, "estimates": estimates, "per_success": per_success}
    if rule_start not in candidates:
        return keep(
            f"{history}; {rule} has fewer than {cfg.min_history} {label} tasks to compare against "
            f"(router.min_history): rule-based start at {rule}",
            **kw,
        )
    best = min(candidates, key=lambda s: (per_success[names[s]], s))
    at_rule, at_best = per_success[rule], per_success[names[best]]
    if best != rule_start and at_best < at_rule * (1 - cfg.learning_margin):
        return StartChoice(
            best,
            names[best],
            f"{history}; starting at {names[best]}: expected {usd(at_best)} per solved task "
            f"vs {usd(at_rule)} from {rule}",
            used_history=True,
            moved=True,
            estimates=estimates,
            per_success=per_success,
        )
    if best == rule_start:
        verdict = "the cheapest start"
    else:
        margin = f"router.learning_margin ({cfg.learning_margin:.0%})"
        verdict = f"{names[best]} would be {usd(at_best)}, within {margin}"
    return keep(f"{history}; keeping {rule}: expected {usd(at_rule)} per solved task, {verdict}", **kw)
