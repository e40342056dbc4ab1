"""The sim bench's figures that need more than a sum: the strict oracle, bootstrap confidence
intervals over tasks, and the share of input tokens read from cache across a tier's attempts.

Strict oracle: per task, the cheapest single tier whose always-X run resolved it, at that run's
cost; a task no tier resolved costs nothing (no policy can do better, docs/bench.md). Intervals:
95% percentile bootstrap, resampling tasks (a task keeps all its seeds' runs), paired across arms
so that a ratio to the oracle compares the same resampled tasks.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

SINGLE_ARMS = ("always-haiku", "always-sonnet", "always-opus")
REPS = 2000


def strict_oracle_rows(by_arm: dict[str, list[dict]]) -> list[dict]:
    """One row per task of one seed: the cheapest always-X run that resolved it, or a zero-cost
    unresolved row when none did."""
    singles = {arm: {r["task"]: r for r in by_arm[arm]} for arm in SINGLE_ARMS if arm in by_arm}
    tasks = list(dict.fromkeys(t for rows in singles.values() for t in rows))
    out = []
    for task in tasks:
        solved = [rows[task] for rows in singles.values() if task in rows and rows[task]["correct"]]
        if solved:
            best = min(solved, key=lambda r: r["cost_usd"])
            out.append({**best, "arm": "oracle", "source_arm": best["arm"]})
        else:
            seed = next(rows[task]["seed"] for rows in singles.values() if task in rows)
            out.append(_nothing_paid(task, seed))
    return out


def _nothing_paid(task: str, seed: int) -> dict:
    return {"arm": "oracle", "seed": seed, "task": task, "outcome": "unsolvable", "fixed": False,
            "correct": False, "cost_usd": 0.0, "calls": 0, "attempts": [], "tiers": [], "final_tier": None,
            "input_tokens": 0, "cache_write_tokens": 0, "cache_read_tokens": 0, "output_tokens": 0,
            "roles": [], "decisions": [], "error": None}  # fmt: skip


def per_task(rows: list[dict]) -> dict[str, tuple[float, float]]:
    """task -> (cost summed over its seeds, resolved runs over its seeds)."""
    out: dict[str, tuple[float, float]] = {}
    for r in rows:
        cost, solved = out.get(r["task"], (0.0, 0.0))
        out[r["task"]] = (cost + r["cost_usd"], solved + bool(r["correct"]))
    return out


def _pct(values: list[float]) -> list[float]:
    values = sorted(values)
    return [values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]]


def _per_resolved(cost: float, solved: float) -> float:
    return cost / solved if solved else float("inf")


def bootstrap(
    arms: dict[str, list[dict]],
    runs_per_task: int,
    reference: str = "oracle",
    reps: int = REPS,
    seed: int = 7,
) -> dict[str, dict]:
    """Per arm: $/resolved and resolve rate with 95% CIs, and $/resolved over the reference arm's
    (paired: the same resampled tasks for both). ``runs_per_task``: seeds per task."""
    figures = {arm: per_task(rows) for arm, rows in arms.items()}
    tasks = sorted({t for f in figures.values() for t in f})
    rng = random.Random(seed)
    draws = [[rng.randrange(len(tasks)) for _ in tasks] for _ in range(reps)]

    def totals(arm: str, idx: Sequence[int]) -> tuple[float, float]:
        f = figures[arm]
        picked = [f.get(tasks[i], (0.0, 0.0)) for i in idx]
        return sum(c for c, _ in picked), sum(s for _, s in picked)

    out = {}
    runs = len(tasks) * runs_per_task
    ref = figures.get(reference)
    for arm in arms:
        cost, solved = totals(arm, range(len(tasks)))
        per, rate, ratio = [], [], []
        for idx in draws:
            c, s = totals(arm, idx)
            per.append(_per_resolved(c, s))
            rate.append(s / runs)
            if ref is not None:
                rc, rs = totals(reference, idx)
                ratio.append(_per_resolved(c, s) / _per_resolved(rc, rs) if rs and rc else float("inf"))
        point_ratio = None
        if ref is not None:
            rc, rs = totals(reference, range(len(tasks)))
            point_ratio = _per_resolved(cost, solved) / _per_resolved(rc, rs) if rs and rc else None
        out[arm] = {
            "usd_per_resolved": cost / solved if solved else None,
            "usd_per_resolved_ci": _pct(per),
            "resolve_rate": solved / runs if runs else 0.0,
            "resolve_rate_ci": _pct(rate),
            "x_oracle": point_ratio,
            "x_oracle_ci": _pct(ratio) if ref is not None else None,
        }
    return out


def tier_cache_share(rows: list[dict], call_records: dict[str, list[dict]]) -> dict:
    """Cache reads over all input tokens (uncached + writes + reads) of the implementer's calls,
    pooled over each (run, tier): what one cached prefix across a tier's attempts saves. Also the
    same per tier, and the share over every call of the arm (roles included)."""
    by_tier: dict[str, list[int]] = {}
    every = [0, 0]
    for r in rows:
        for c in call_records.get(f"{r.get('source_arm', r['arm'])}|{r['seed']}|{r['task']}", []):
            prompt = c["input_tokens"] + c["cache_write_tokens"] + c["cache_read_tokens"]
            every[0] += c["cache_read_tokens"]
            every[1] += prompt
            if c["role"] == "implementer":
                read, total = by_tier.setdefault(c["tier"], [0, 0])
                by_tier[c["tier"]] = [read + c["cache_read_tokens"], total + prompt]
    reads = sum(v[0] for v in by_tier.values())
    total = sum(v[1] for v in by_tier.values())
    return {
        "implementer": reads / total if total else None,
        "per_tier": {t: (v[0] / v[1] if v[1] else None) for t, v in by_tier.items()},
        "all_calls": every[0] / every[1] if every[1] else None,
    }


CALL_FIELDS = ("tier", "role", "model", "input_tokens", "cache_write_tokens", "cache_read_tokens",
               "output_tokens", "cost_usd")  # fmt: skip


def compact_calls(call_records: dict[str, list[dict]]) -> dict:
    """Every call's model, tier, role, usage and cost, as rows under one header (the results JSON)."""
    return {
        "fields": list(CALL_FIELDS),
        "usage_names": "cache_write_tokens = usage.cache_creation_input_tokens, "
        "cache_read_tokens = usage.cache_read_input_tokens",
        "runs": {key: [[c[f] for f in CALL_FIELDS] for c in calls] for key, calls in call_records.items()},
    }
