"""Learning from outcomes: the start tier by expected cost, estimated from the ledger.

Start on the cheapest tier. Move the start up one tier only when the estimated probability that
the cheaper tier fails, q, beats the break-even

    q > (c_next - c_cheap) / (c_next - c_cheap + F_cheap)

where c_cheap is what a *successful* visit to the cheaper tier costs, F_cheap what a failed one
costs (all its attempts) and c_next what a visit to the next tier costs. Below the break-even,
trying the cheap tier first is cheaper in expectation (a failure there costs F_cheap and then
c_next anyway); above it, starting higher is. Costs are measured per tier from the ledger over
every class (a failed attempt costs more than a successful one; list-price ratios are not
per-task cost ratios); with no measured cost for a tier nothing moves.

q comes from the ledger's history of the tier *as a start tier* (the run's first tier): a
tier's rate after a lower tier failed is another quantity (those tasks are harder) and is kept
apart (``after_fail``, used by the give-up decision, :mod:`escalate.routing.giveup`). The rate
is estimated per repository and class with Beta-Binomial shrinkage:

    other classes:           g = (k_o + 1) / (n_o + 2)
    the class elsewhere:     c = (k_c' + m * g) / (n_c' + m)      (its other repositories)
    this repository x class:     (k_rc + m * c) / (n_rc + m)      m = router.prior_strength

so a repository with a few tasks leans on its class, and a class on the whole ledger; each prior
comes from the other visits, so no visit is counted twice.

The decision reads a cautious bound: P(fail) less 1.28 standard errors (one-sided 90%), so a
few unlucky early failures do not move the start for good (a tier not started on gets no start
history to correct it).

Exploration: a share ``router.explore_share`` of tasks, picked by a hash of the task id (the
same task always gets the same answer, so runs are reproducible), starts one tier lower than
the estimate says, so the cheaper tier keeps getting start-tier history.

Only attempts that got a model verdict count (the ledger keeps API errors, budget stops and
interrupts apart). A history made with an older model of a tier does not count for the new one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from escalate.records.ledger import Ledger, TierVisit
from escalate.routing.rules import Classification

if TYPE_CHECKING:
    from escalate.config import RouterConfig, TierConfig

CONFIDENCE_Z = 1.28  # one-sided 90%: history acts only when the bound, not just the mean, says so


def upper_bound(p: float, rate: Rate) -> float:
    """p plus CONFIDENCE_Z standard errors of a rate with trials + prior strength observations."""
    n = rate.trials + rate.strength
    return min(1.0, p + CONFIDENCE_Z * math.sqrt(max(p * (1 - p), 0.0) / (n + 1)))


@dataclass(frozen=True)
class Rate:
    """A success rate shrunk toward a prior: (successes + strength * prior) / (trials + strength)."""

    successes: int
    trials: int
    prior: float
    strength: float

    @property
    def mean(self) -> float:
        return (self.successes + self.strength * self.prior) / (self.trials + self.strength)

    def to_json(self) -> dict:
        return {"successes": self.successes, "trials": self.trials, "prior": round(self.prior, 4),
                "mean": round(self.mean, 4)}  # fmt: skip


@dataclass(frozen=True)
class TierStats:
    """One tier's numbers for one task (its repository and class)."""

    tier: str
    start: Rate  # P(solved | the run started here), repository x class, shrunk
    after_fail: Rate  # P(solved | a lower tier failed first), repository x class, shrunk
    cost_success: float | None  # mean $ of a visit that solved (every class), None = never seen
    cost_fail: float | None  # mean $ of a visit that failed
    cost_visit: float | None  # mean $ of any visit
    visits: int  # visits of this tier in the ledger (every class)

    def to_json(self) -> dict:
        return {
            "tier": self.tier,
            "start": self.start.to_json(),
            "after_fail": self.after_fail.to_json(),
            "cost_success_usd": _r(self.cost_success),
            "cost_fail_usd": _r(self.cost_fail),
            "cost_visit_usd": _r(self.cost_visit),
            "visits": self.visits,
        }


@dataclass(frozen=True)
class StartStep:
    """One comparison: start at `tier` or one above, with the break-even and the estimate."""

    tier: str
    p_fail: float
    breakeven: float | None  # None: a cost was never measured
    move_up: bool
    p_fail_low: float = 0.0  # the cautious bound the decision reads

    def to_json(self) -> dict:
        return {"tier": self.tier, "p_fail": round(self.p_fail, 4), "p_fail_low": round(self.p_fail_low, 4),
                "breakeven": _r(self.breakeven), "move_up": self.move_up}  # fmt: skip


@dataclass(frozen=True)
class StartChoice:
    """The start tier after consulting history, and why."""

    index: int
    name: str
    reason: str
    used_history: bool  # the ledger had enough history to estimate
    moved: bool  # history moved the start above the cheapest tier
    tiers: list[TierStats] = field(default_factory=list)
    steps: list[StartStep] = field(default_factory=list)
    explored: bool = False  # this task was picked to start one tier lower than the estimate

    def to_json(self) -> dict:
        return {
            "used": self.used_history,
            "moved": self.moved,
            "explored": self.explored,
            "tiers": [t.to_json() for t in self.tiers],
            "steps": [s.to_json() for s in self.steps],
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def fmt_usd_short(value: float | None) -> str:
    """Dollars for a reason sentence (a string, like ``pricing.fmt_usd``; ``pricing.usd`` is the
    float for files): cents, or four decimals below one cent."""
    if value is None:
        return "unmeasured"
    if math.isinf(value):
        return "unbounded"
    return f"${value:.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def tier_stats(
    visits: Iterable[TierVisit],
    tier_names: Sequence[str],
    klass: Classification,
    repo: str | None,
    cfg: RouterConfig,
) -> list[TierStats]:
    """Per tier, in ladder order: shrunk start and after-fail rates for (repo, class), measured costs."""
    visits = [v for v in visits if v.tier in tier_names]
    out = []
    for name in tier_names:
        mine = [v for v in visits if v.tier == name]
        after = shrunk([v for v in mine if not v.started_here], klass, repo, cfg.prior_strength)
        # A tier never tried as a start leans on its after-fail rate: a lower bound (harder tasks).
        start = shrunk([v for v in mine if v.started_here], klass, repo, cfg.prior_strength, after.mean)
        solved = [v.cost_usd for v in mine if v.solved]
        failed = [v.cost_usd for v in mine if not v.solved]
        out.append(
            TierStats(name, start, after, _mean(solved), _mean(failed), _mean(solved + failed), len(mine))
        )
    return out


def shrunk(
    pool: Sequence[TierVisit], klass: Classification, repo: str | None, m: float, empty: float = 0.5
) -> Rate:
    """The success rate of `pool` for (repo, class), each level shrunk toward the level above it.

    Each prior is estimated from the *other* visits (other classes for the class, the class's other
    repositories for the repository), so no visit counts twice. `empty` is the prior when the pool
    has no visit at all.
    """

    def counts(vs: Iterable[TierVisit]) -> tuple[int, int]:
        vs = list(vs)
        return sum(v.solved for v in vs), len(vs)

    same = [v for v in pool if (v.complexity, v.error_cost) == (klass.complexity, klass.error_cost)]
    k_all, n_all = counts(pool)
    k_c, n_c = counts(same)
    others = Rate(k_all - k_c, n_all - n_c, empty, 2.0).mean  # other classes, prior Beta(1, 1)-like
    if repo is None:
        return Rate(k_c, n_c, others, m)
    k_r, n_r = counts(v for v in same if v.repo == repo)
    class_elsewhere = Rate(k_c - k_r, n_c - n_r, others, m).mean
    return Rate(k_r, n_r, class_elsewhere, m)


def breakeven(cheap: TierStats, nxt: TierStats) -> float | None:
    """(c_next - c_cheap) / (c_next - c_cheap + F_cheap); None when a cost was never measured."""
    if cheap.cost_success is None or cheap.cost_fail is None or nxt.cost_visit is None:
        return None
    gap = nxt.cost_visit - cheap.cost_success
    if gap <= 0:
        return 0.0  # the next tier costs no more than a cheap success: any failure risk favours it
    return gap / (gap + cheap.cost_fail)


def explores(task_id: str | None, share: float) -> bool:
    """Deterministic per task: the same id is always in (or out of) the exploring share."""
    if not task_id or share <= 0:
        return False
    digest = hashlib.sha256(task_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _tier_name(tier: str | TierConfig) -> str:
    return tier if isinstance(tier, str) else tier.name


def choose_start(
    ledger: Ledger | None,
    klass: Classification,
    tiers: Sequence[str | TierConfig],
    cfg: RouterConfig,
    *,
    repo: str | None = None,
    task_id: str | None = None,
    models: Mapping[str, str] | None = None,
) -> StartChoice:
    """The start tier for a task of `klass` in `repo`: the cheapest, or higher when the ledger says so.

    `tiers` are the ladder's tiers (``TierConfig``s or names), cheapest first; `cfg` is
    ``config.RouterConfig``; `models` maps tier name -> the model id it resolves to now;
    `task_id` picks the task in or out of the exploring share.
    """
    names = [_tier_name(t) for t in tiers]
    cheapest = names[0]
    label = klass.label

    def keep(reason: str, **kw: Any) -> StartChoice:
        return StartChoice(0, cheapest, reason, **({"used_history": False, "moved": False} | kw))

    if not cfg.learning:
        return keep(f"router.learning is off: start at the cheapest tier, {cheapest}")
    if ledger is None:
        return keep(f"no ledger (ledger.enabled is false): start at the cheapest tier, {cheapest}")

    visits = ledger.tier_visits(models=models)
    stats = tier_stats(visits, names, klass, repo, cfg)
    seen = stats[0].visits
    if seen < cfg.min_history:
        return keep(
            f"only {seen} task(s) on {cheapest} in the ledger, {cfg.min_history} needed "
            f"(router.min_history): start at the cheapest tier, {cheapest}",
            tiers=stats,
        )

    steps: list[StartStep] = []
    index = 0
    while index + 1 < len(names):
        here, nxt = stats[index], stats[index + 1]
        p_fail = 1.0 - here.start.mean
        # Cautious: the cheap tier's success rate at its upper bound (a few unlucky early failures
        # must not move the start for good: a tier not started on gets no start history).
        low = 1.0 - upper_bound(here.start.mean, here.start)
        even = breakeven(here, nxt)
        up = even is not None and low > min(1.0, even * (1 + cfg.learning_margin))
        steps.append(StartStep(here.tier, p_fail, even, up, low))
        if not up:
            break
        index += 1
    why = "; ".join(_step_reason(s, stats[i], stats[i + 1], label, repo) for i, s in enumerate(steps))
    explored = index > 0 and explores(task_id, cfg.explore_share)
    if explored:
        index -= 1
        why += (
            f"; this task is in the router.explore_share ({cfg.explore_share:.0%}) that starts one tier "
            f"lower so {names[index]} keeps getting history: start at {names[index]}"
        )
    else:
        why += f": start at {names[index]}"
    return StartChoice(index, names[index], why, True, index > 0, stats, steps, explored)


def _step_reason(step: StartStep, here: TierStats, nxt: TierStats, label: str, repo: str | None) -> str:
    r = here.start
    where = f"{label} in {repo}" if repo else label
    est = (
        f"{here.tier} as a start tier solved {r.successes}/{r.trials} {where} tasks, shrunk to "
        f"{r.mean:.0%} (prior {r.prior:.0%}): P(fail) {step.p_fail:.0%}, at least {step.p_fail_low:.0%}"
    )
    if step.breakeven is None:
        return f"{est}; a cost of {here.tier} or {nxt.tier} was never measured: no move"
    costs = (
        f"break-even {step.breakeven:.0%} from {nxt.tier} {fmt_usd_short(nxt.cost_visit)} a visit, "
        f"{here.tier} "
        f"{fmt_usd_short(here.cost_success)} a success and {fmt_usd_short(here.cost_fail)} a failure"
    )
    verdict = f"above it: skip {here.tier}" if step.move_up else f"not above it: try {here.tier} first"
    return f"{est}, {costs}; {verdict}"
