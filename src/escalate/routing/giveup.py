"""Stop paying for hopeless escalation: before each higher tier, is it worth trying?

Half of a plain ladder's spend goes to tasks that no tier solves. Before the ladder climbs to the
next tier, the evidence is weighed:

* p: the ledger's success rate of the next tier *after a lower tier failed* (not its rate as a
  start tier: those tasks are easier), for this repository and class (shrunk toward the class and
  the ledger, :func:`escalate.routing.learning.tier_stats`), then narrowed to runs whose lower
  tier failed at the same validation stage as this one ("this kind of failure"), shrunk again;
* the same failure signature at the same stage on every lower tier tried (two or more tiers stuck
  on one wall) multiplies p by ``router.same_failure_discount``;
* c: the next tier's mean measured cost per visit;
* the remaining budget: a visit expected to cost more than what is left is not started;
* ``router.value_usd``: what a fix is worth. The next tier is tried when p_high x value >= c,
  where p_high is p plus 1.28 standard errors (a one-sided 90% bound): the ladder stops only when
  even an optimistic reading of the evidence says the tier is not worth it, so a few unlucky early
  failures cannot shut a tier off (a stop would also stop the history that could correct it).

With learning off, no ledger, no measured cost or fewer than ``router.min_history`` after-fail
visits of the next tier, the ladder climbs as before (and says why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from escalate.routing.learning import Rate, explores, fmt_usd_short, shrunk, tier_stats, upper_bound
from escalate.routing.rules import Classification

if TYPE_CHECKING:
    from escalate.config import RouterConfig, TierConfig
    from escalate.records.ledger import Ledger, TierVisit


@dataclass(frozen=True)
class Failure:
    """How one lower tier's last attempt failed."""

    tier: str
    stage: str
    signature: str = ""


@dataclass(frozen=True)
class ClimbDecision:
    """Whether to try the next tier, with the numbers behind it."""

    climb: bool
    tier: str  # the next tier
    reason: str
    p_success: float | None = None  # the estimate, after the same-failure discount
    p_high: float | None = None  # its optimistic bound, which the decision uses
    after_fail: Rate | None = None  # the next tier's after-fail rate (repository x class)
    stage: str | None = None
    stage_rate: Rate | None = None  # narrowed to runs whose lower tier failed at `stage`
    same_failure: bool = False
    cost_usd: float | None = None  # the next tier's mean cost per visit
    value_usd: float | None = None
    budget_left_usd: float | None = None

    @property
    def expected_value_usd(self) -> float | None:
        """The optimistic bound's value of a try (what the decision compares with the cost)."""
        if self.p_high is None or self.value_usd is None:
            return None
        return self.p_high * self.value_usd

    def to_json(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 6)

        return {
            "climb": self.climb,
            "tier": self.tier,
            "p_success": r(self.p_success),
            "p_high": r(self.p_high),
            "after_fail": self.after_fail.to_json() if self.after_fail else None,
            "stage": self.stage,
            "stage_rate": self.stage_rate.to_json() if self.stage_rate else None,
            "same_failure": self.same_failure,
            "cost_usd": r(self.cost_usd),
            "value_usd": r(self.value_usd),
            "expected_value_usd": r(self.expected_value_usd),
            "budget_left_usd": r(self.budget_left_usd),
        }


def same_failure(failures: Sequence[Failure]) -> bool:
    """Every lower tier (two or more) failed last with one signature at one stage."""
    if len(failures) < 2 or not failures[0].signature:
        return False
    first = (failures[0].stage, failures[0].signature)
    return all((f.stage, f.signature) == first for f in failures)


def decide_climb(
    ledger: Ledger | None,
    klass: Classification | None,
    tiers: Sequence[str | TierConfig],
    nxt: int,
    failures: Sequence[Failure],
    cfg: RouterConfig,
    *,
    repo: str | None = None,
    budget_left_usd: float | None = None,
    models: Mapping[str, str] | None = None,
    task_id: str | None = None,
) -> ClimbDecision:
    """Try tier `nxt` (an index into `tiers`) after `failures` on the tiers below it, or stop?

    A task in ``router.explore_share`` (by `task_id`) climbs even when the estimate says stop, so
    the after-fail rate keeps getting history (else a few early failures would stop it for good).
    """
    names = [t if isinstance(t, str) else t.name for t in tiers]
    name = names[nxt]
    if not cfg.learning or ledger is None or klass is None:
        why = "router.learning is off" if not cfg.learning else "no ledger or no class"
        return ClimbDecision(True, name, f"{why}: the ladder climbs without weighing the evidence")
    visits = ledger.tier_visits(models=models)
    stats = tier_stats(visits, names, klass, repo, cfg)[nxt]
    base = {"tier": name, "value_usd": cfg.value_usd, "budget_left_usd": budget_left_usd}
    if stats.cost_visit is None:
        return ClimbDecision(True, reason=f"{name} has no measured cost in the ledger: climb", **base)
    after = stats.after_fail
    seen = sum(1 for v in visits if v.tier == name and not v.started_here)
    if seen < cfg.min_history:
        return ClimbDecision(
            True,
            reason=f"only {seen} visit(s) of {name} after a lower tier failed in the ledger, "
            f"{cfg.min_history} needed (router.min_history): climb",
            cost_usd=stats.cost_visit,
            after_fail=after,
            **base,
        )
    stage = failures[-1].stage if failures else None
    stage_rate = _stage_rate(visits, names, nxt, stage, klass, repo, cfg.prior_strength) if stage else None
    p = stage_rate.mean if stage_rate else after.mean
    high = upper_bound(p, stage_rate or after)
    same = same_failure(failures)
    if same:
        p, high = p * cfg.same_failure_discount, high * cfg.same_failure_discount
    numbers = dict(
        p_success=p, p_high=high, after_fail=after, stage=stage, stage_rate=stage_rate, same_failure=same,
        cost_usd=stats.cost_visit, **base,
    )  # fmt: skip
    est = (
        f"{name} solved {after.successes}/{after.trials} tasks here after a lower tier failed "
        f"(shrunk {after.mean:.0%})"
    )
    if stage_rate is not None:
        rate = stage_rate
        est += f", {rate.successes}/{rate.trials} after a failure at {stage} ({rate.mean:.0%})"
    if same:
        est += f"; every lower tier failed the same way at {stage}: x{cfg.same_failure_discount:g}"
    worth = high * cfg.value_usd
    odds = f"P(fix) {p:.0%}, at most {high:.0%}"
    value, visit = fmt_usd_short(cfg.value_usd), fmt_usd_short(stats.cost_visit)
    if budget_left_usd is not None and stats.cost_visit > budget_left_usd:
        return ClimbDecision(
            False,
            reason=f"{est}; a visit of {name} costs {visit} on average, more than the "
            f"{fmt_usd_short(budget_left_usd)} left in the budget: stop",
            **numbers,
        )
    if worth < stats.cost_visit and explores(f"{task_id}:climb:{name}", cfg.explore_share):
        return ClimbDecision(
            True,
            reason=f"{est}; {odds} x router.value_usd {value} = {fmt_usd_short(worth)} is less "
            f"than {name}'s {visit} a visit, but this task is in router.explore_share "
            f"({cfg.explore_share:.0%}): climb to keep {name}'s history current",
            **numbers,
        )
    if worth < stats.cost_visit:
        return ClimbDecision(
            False,
            reason=f"{est}; {odds} x router.value_usd {value} = {fmt_usd_short(worth)} is less "
            f"than {name}'s {visit} a visit: not worth it, stop",
            **numbers,
        )
    return ClimbDecision(
        True,
        reason=f"{est}; {odds} x router.value_usd {value} = {fmt_usd_short(worth)} beats "
        f"{name}'s {visit} a visit: climb",
        **numbers,
    )


def _stage_rate(
    visits: Sequence[TierVisit],
    names: Sequence[str],
    nxt: int,
    stage: str,
    klass: Classification,
    repo: str | None,
    strength: float,
) -> Rate:
    """The next tier's success after the tier below it failed at `stage`, shrunk toward its success
    after failures at other stages (so a ledger with one kind of failure gives the after-fail rate)."""
    below = names[nxt - 1] if nxt > 0 else None
    runs: dict[str, dict[str, TierVisit]] = {}
    for v in visits:
        runs.setdefault(v.run_id, {})[v.tier] = v
    at_stage, other = [], []
    for tiers in runs.values():
        lower, upper = tiers.get(below), tiers.get(names[nxt])
        if lower is None or upper is None or lower.solved or upper.started_here:
            continue
        (at_stage if lower.last_stage == stage else other).append(upper)
    prior = shrunk(other, klass, repo, strength).mean if other else None
    rate = shrunk(at_stage, klass, repo, strength)
    if prior is None:
        return rate
    return Rate(rate.successes, rate.trials, prior, strength)
