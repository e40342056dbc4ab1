"""Routing economics: arms x seeds x corpus tasks, each a real ``run_task`` against the oracle sim.

Arms are configurations of the same runner. The oracle router is not run: it is read off the
always-X arms' per-task results (the cheapest single tier that solved each task), the lower bound
every arm is measured against. Arms whose feature has not landed are probed with one real run
and reported as "not available yet" with the reason, never simulated.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.corpus import CorpusTask
from bench.simoracle import describe
from bench.simstats import bootstrap, compact_calls, strict_oracle_rows, tier_cache_share
from bench.taskrun import bench_overrides, run_one

TIERS_4X = [
    {"name": "haiku", "model": "claude-haiku-4-5"},
    {"name": "sonnet", "model": "claude-sonnet-4-6"},
    {"name": "opus", "model": "claude-opus-4-6"},
]
TIERS_55 = [
    {"name": "haiku", "model": "claude-haiku-5-5"},
    {"name": "sonnet", "model": "claude-sonnet-5-5"},
    {"name": "opus", "model": "claude-opus-5-5"},
]
SINGLE = {"always-haiku": 0, "always-sonnet": 1, "always-opus": 2}


def arm_overrides(arm: str, ledger: Path | None = None) -> dict:
    if arm in SINGLE:
        return bench_overrides([TIERS_4X[SINGLE[arm]]])
    if arm == "ladder":
        # With a ledger path, the ladder records its runs (the learning arm's warm-up) without
        # consulting them: router.learning off keeps this arm the plain ladder.
        extra = (
            {"ledger": {"enabled": True, "path": str(ledger)}, "router": {"learning": False}}
            if ledger
            else {}
        )
        return bench_overrides(TIERS_4X, **extra)
    if arm == "ladder-5.5":
        return bench_overrides(TIERS_55)
    if arm == "plan-execute":
        return bench_overrides(
            TIERS_4X, roles={"preset": "plan-execute", "planner": {"enabled": True, "tier": "opus"}}
        )
    if arm == "learning":
        return bench_overrides(
            TIERS_4X, ledger={"enabled": True, "path": str(ledger)}, router={"learning": True}
        )
    raise ValueError(f"unknown arm {arm!r}")


def job(
    arm: str, seed: int, task: CorpusTask, ledger: Path | None = None, max_cost: float | None = None
) -> dict:
    overrides = arm_overrides(arm, ledger)
    if max_cost is not None:  # the per-task budget (default $2.00) for every arm alike
        overrides["budget"] = {**overrides.get("budget", {}), "max_cost_usd": max_cost}
    return {"arm": arm, "seed": seed, "task_dir": str(task.repo_dir.parent), "overrides": overrides}


def run_jobs(jobs: list[dict], workers: int, fn=run_one) -> list[dict]:
    """``fn(job)`` for every job, across ``workers`` processes (each run is independent)."""
    if workers <= 1:
        return [fn(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, jobs, chunksize=1))


# -- checks for features that may not have landed ------------------------------------------------
# Read off the arm's own runs (no extra probe runs): an arm whose feature did nothing is reported
# "not available yet" with the reason, and its rows leave the summary.

HISTORY_WORDS = ("solved", "histor", "ledger", "learn")


def plan_execute_missing(rows: list[dict]) -> str | None:
    """Why the plan-execute arm did not plan, or None when its runs called the planner."""
    if any("planner" in r["roles"] for r in rows):
        return None
    errors = [r["error"] for r in rows if r["outcome"] == "error" and r["error"]]
    if errors and len(errors) == len(rows):
        return f"every run failed: {errors[0][:120]}"
    return "roles.preset: plan-execute makes no planner call (the runner does not read roles yet)"


def learning_missing(rows: list[dict]) -> str | None:
    """Why the learning arm did not use history, or None when its start decisions cite the ledger."""
    starts = [d for r in rows for d in r["decisions"] if d["kind"] == "start_tier"]
    if any(any(w in d["reason"].lower() for w in HISTORY_WORDS) for d in starts):
        return None
    return "route() does not consult the ledger yet (router.learning has no effect on the start tier)"


def starts_moved(results: list[dict], seed: int) -> int:
    """Tasks whose start tier differs between the learning arm and the ladder (same seed)."""
    start = {
        (r["arm"], r["task"]): next((d["choice"] for d in r["decisions"] if d["kind"] == "start_tier"), None)
        for r in results
        if r["seed"] == seed and r["arm"] in ("ladder", "learning")
    }
    return sum(start[("learning", t)] != start.get(("ladder", t)) for (a, t) in start if a == "learning")


# -- metrics -------------------------------------------------------------------------------------


def arm_metrics(rows: list[dict], n_tasks: int) -> dict:
    """One arm, one seed: resolve rate, money, calls, escalation and cache figures."""
    resolved = sum(r["correct"] for r in rows)
    cost = sum(r["cost_usd"] for r in rows)
    prompt = sum(r["input_tokens"] + r["cache_write_tokens"] + r["cache_read_tokens"] for r in rows)
    visits: dict[str, list[bool]] = {}
    for r in rows:
        for i, tier in enumerate(r["tiers"]):
            visits.setdefault(tier, []).append(i + 1 < len(r["tiers"]))
    return {
        "tasks": n_tasks,
        "resolved": resolved,
        "resolve_rate": resolved / n_tasks if n_tasks else 0.0,
        "false_fixes": sum(r["fixed"] and not r["correct"] for r in rows),
        "errors": sum(r["outcome"] == "error" for r in rows),
        "cost_usd": cost,
        "usd_per_resolved": cost / resolved if resolved else None,
        "calls": sum(r["calls"] for r in rows),
        "cache_read_share": sum(r["cache_read_tokens"] for r in rows) / prompt if prompt else 0.0,
        "escalation_rate": {t: sum(v) / len(v) for t, v in visits.items()},
        "final_tier": {t: sum(r["final_tier"] == t for r in rows) for t in visits},
    }


def _seed_rows_by_arm(results: list[dict], seed: int) -> dict[str, list[dict]]:
    """One seed's result rows by arm, with the strict oracle's rows when every single tier ran."""
    by_arm: dict[str, list[dict]] = {}
    for r in results:
        if r["seed"] == seed:
            by_arm.setdefault(r["arm"], []).append(r)
    if all(a in by_arm for a in SINGLE):
        by_arm["oracle"] = strict_oracle_rows(by_arm)
    return by_arm


def summarize(results: list[dict], seeds: list[int], n_tasks: int) -> dict:
    """Per arm: per-seed metrics, their spread, PGR and the multiple of the oracle's $/resolved."""
    per_seed: dict[str, dict[int, dict]] = {}
    for seed in seeds:
        by_arm = _seed_rows_by_arm(results, seed)
        for arm, rows in by_arm.items():
            per_seed.setdefault(arm, {})[seed] = arm_metrics(rows, n_tasks)
    for seeds_m in per_seed.values():
        for seed, m in seeds_m.items():
            h = per_seed.get("always-haiku", {}).get(seed)
            o = per_seed.get("always-opus", {}).get(seed)
            orc = per_seed.get("oracle", {}).get(seed)
            gap = (o["resolve_rate"] - h["resolve_rate"]) if h and o else 0.0
            m["pgr"] = (m["resolve_rate"] - h["resolve_rate"]) / gap if h and gap > 0 else None
            if orc and orc["usd_per_resolved"] and m["usd_per_resolved"]:
                m["oracle_multiple"] = m["usd_per_resolved"] / orc["usd_per_resolved"]
            else:
                m["oracle_multiple"] = None
    return {arm: {"per_seed": s, "spread": spread(list(s.values()))} for arm, s in per_seed.items()}


def pooled(results: list[dict], seeds: list[int], call_records: dict[str, list[dict]]) -> dict:
    """Over every seed: bootstrap CIs per arm (strict oracle included) and the cache-read shares."""
    arms: dict[str, list[dict]] = {}
    for seed in seeds:
        by_arm = _seed_rows_by_arm(results, seed)
        for arm, rows in by_arm.items():
            arms.setdefault(arm, []).extend(rows)
    stats = bootstrap(arms, len(seeds), reference="oracle" if "oracle" in arms else "")
    for arm, rows in arms.items():
        stats[arm]["cache"] = tier_cache_share(rows, call_records)
    return stats


SPREAD_KEYS = (
    "resolve_rate",
    "cost_usd",
    "usd_per_resolved",
    "calls",
    "cache_read_share",
    "pgr",
    "oracle_multiple",
    "false_fixes",
)


def spread(metrics: list[dict]) -> dict:
    """min / median / max / mean / sd over seeds of each headline metric (None values skipped)."""
    out = {}
    for key in SPREAD_KEYS:
        values = [m[key] for m in metrics if m.get(key) is not None]
        if not values:
            out[key] = None
            continue
        out[key] = {
            "min": min(values),
            "median": statistics.median(values),
            "max": max(values),
            "mean": statistics.fmean(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values),
        }
    tiers: dict[str, list[float]] = {}
    for m in metrics:
        for tier, rate in m["escalation_rate"].items():
            tiers.setdefault(tier, []).append(rate)
    out["escalation_rate"] = {t: statistics.fmean(v) for t, v in tiers.items()}
    return out


def run_economics(
    tasks: list[CorpusTask],
    seeds: list[int],
    workers: int,
    budget_s: float | None = None,
    log=print,
    max_cost: float | None = None,
) -> dict:
    """Every arm on every task, seed after seed. A seed that would not finish within ``budget_s``
    (estimated from the seeds so far) is skipped and said so; the first always runs."""
    started = time.perf_counter()
    arms = ["always-haiku", "always-sonnet", "always-opus", "ladder", "ladder-5.5", "plan-execute"]
    results: list[dict] = []
    done: list[int] = []
    unavailable: dict[str, str] = {}
    moved: dict[int, int] = {}
    for seed in seeds:
        now = time.perf_counter()
        per_seed = (now - started) / len(done) if done else 0.0
        if done and budget_s is not None and now - started + per_seed > budget_s:
            left = budget_s - (now - started)
            log(f"  seed {seed} skipped: a seed takes {per_seed:.0f} s and {left:.0f} s are left")
            continue
        with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
            # The ladder arm records its runs here; the learning arm then routes with them.
            ledger = Path(tmp) / "ledger.db"
            jobs = [
                job(arm, seed, t, ledger if arm == "ladder" else None, max_cost)
                for arm in arms
                for t in tasks
            ]
            log(f"  seed {seed}: {len(jobs)} runs ({len(arms)} arms x {len(tasks)} tasks), {workers} workers")
            results += run_jobs(jobs, workers)
            if not ledger.exists():
                unavailable["learning"] = (
                    "run_task does not record runs in the ledger yet: no history to learn"
                )
            elif "learning" not in unavailable:
                log(f"  seed {seed}: learning arm, {len(tasks)} runs routed with the ladder's ledger")
                results += run_jobs([job("learning", seed, t, ledger, max_cost) for t in tasks], workers)
                moved[seed] = starts_moved(results, seed)
        done.append(seed)
    for arm, check in (("plan-execute", plan_execute_missing), ("learning", learning_missing)):
        rows = [r for r in results if r["arm"] == arm]
        why = unavailable.get(arm) or (check(rows) if rows else None)
        if why:
            unavailable[arm] = why
            results = [r for r in results if r["arm"] != arm]
            log(f"  {arm}: not available yet: {why}")
    ran = [a for a in [*arms, "learning"] if a not in unavailable]
    calls = {f"{r['arm']}|{r['seed']}|{r['task']}": r["call_records"] for r in results}
    return {
        "sim_oracle": describe(),
        "max_cost_usd": max_cost,  # None: the config's default per-task budget
        "arms": ran,
        "unavailable": unavailable,
        "learning_starts_moved": moved,
        "seeds": done,
        "seeds_asked": list(seeds),
        "tasks": [t.id for t in tasks],
        "seconds": time.perf_counter() - started,
        "summary": summarize(results, done, len(tasks)),
        "pooled": pooled(results, done, calls),
        "runs": [{k: v for k, v in r.items() if k != "call_records"} for r in results],
        "calls": compact_calls(calls),  # what the results JSON keeps of every call
        "call_records": calls,  # the full calls.jsonl rows, for the batch section (not written)
    }
