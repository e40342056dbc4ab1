"""``python -m bench replay``: the project's own routing code replayed on real SWE-bench outcomes.

Each instance of ../shared/data/swebench-verified-outcomes.csv is a task the router sees with only
what a real run knows up front (its repository and id). The router picks a start tier; the cascade
tries tiers upward, one attempt each (the table has one run per model), until a tier's run resolved
the instance, the top tier failed, or the router's give-up said the next tier is not worth it. Every
tier tried is charged its measured cost (or its list price per attempt) and written to a real
:class:`escalate.records.ledger.Ledger`, the only history the router learns from: it never sees the
outcome of a tier it did not try.

Arms: always-cheapest, always-top, the router with learning off and on, the hindsight oracle and
the strict hindsight oracle (nothing paid where no tier resolves). Orders: by instance_id, then
seeded shuffles. Confidence intervals: bootstrap over instances of the per-instance figures
averaged over the orders.

    python -m bench replay                      # every ladder, 1 fixed order + 4 shuffles
    python -m bench replay --shuffles 9 --label after
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bench.replay_data import LADDERS, Instance, Ladder, find_table, instances, load_rows

RESULTS = Path(__file__).resolve().parent / "results"
TIER_NAMES = ("haiku", "sonnet", "opus")  # the default ladder's tier names; the router reads their lines


@dataclass
class Trace:
    """What one arm did on one instance."""

    tried: list[int] = field(default_factory=list)  # tier indexes tried, in order
    cost: float = 0.0
    resolved: bool = False
    start: int = 0
    gave_up: bool = False  # stopped below the top tier by the give-up decision


class Policy(Protocol):
    name: str

    def start(self, inst: Instance) -> int: ...
    def go_on(self, inst: Instance, nxt: int, trace: Trace) -> bool: ...
    def record(self, inst: Instance, trace: Trace) -> None: ...
    def close(self) -> None: ...


def cascade(policy: Policy, inst: Instance, top_only: bool = False) -> Trace:
    """Start where the policy says; climb until resolved, top failed, or the policy stops."""
    trace = Trace(start=policy.start(inst))
    tier = trace.start
    while True:
        trace.tried.append(tier)
        trace.cost += inst.cost[tier]
        if inst.resolved[tier]:
            trace.resolved = True
            break
        if top_only or tier + 1 >= len(inst.resolved):
            break
        if not policy.go_on(inst, tier + 1, trace):
            trace.gave_up = True
            break
        tier += 1
    policy.record(inst, trace)
    return trace


class Fixed:
    """always-cheapest (start 0, cascade) or always-top (top tier only)."""

    def __init__(self, name: str, start: int) -> None:
        self.name, self._start = name, start

    def start(self, inst: Instance) -> int:
        return self._start

    def go_on(self, inst: Instance, nxt: int, trace: Trace) -> bool:
        return True

    def record(self, inst: Instance, trace: Trace) -> None:
        pass

    def close(self) -> None:
        pass


def oracle(inst: Instance, strict: bool) -> Trace:
    """The cheapest single tier that resolved it; unresolved: the top once, or nothing (strict)."""
    solvers = [t for t, ok in enumerate(inst.resolved) if ok]
    if solvers:
        best = min(solvers, key=lambda t: (inst.cost[t], t))
        return Trace([best], inst.cost[best], True, best)
    if strict:
        return Trace([], 0.0, False, len(inst.resolved) - 1)
    top = len(inst.resolved) - 1
    return Trace([top], inst.cost[top], False, top)


# ---------------------------------------------------------------- the project's router


class Router:
    """The project's routing code over a real ledger that holds only what this arm tried.

    Start: ``routing.learning.choose_start`` (repository and instance id are all it is told).
    Before each higher tier: ``routing.giveup.decide_climb`` with the lower tiers' failures (the
    table has no failure stage or signature: every failure is one kind, "tests").
    """

    def __init__(self, name: str, ladder: Ladder, workdir: Path, **router: object) -> None:
        from escalate.config.schema import Config
        from escalate.records.ledger import Ledger

        self.name = name
        self.give_up = bool(router.pop("give_up", True))
        base = Config()
        self.config = base.model_copy(update={"router": base.router.model_copy(update=router)})
        self.ledger = Ledger.open(workdir / f"{name}.sqlite")
        self.ledger.db.execute("PRAGMA synchronous = OFF")  # a throwaway ledger: no fsync per write
        self.models = dict(zip(TIER_NAMES, ladder.runs, strict=True))

    def start(self, inst: Instance) -> int:
        from escalate.routing.learning import choose_start
        from escalate.routing.rules import classify, gather_signals
        from escalate.task import Task

        # What a run knows up front: no issue text is in the table, so the rules see an empty issue.
        task = Task(kind="issue", title="", text="", slug=inst.instance_id)
        self._klass = classify(gather_signals(task), self.config.router)
        tiers = self.config.tiers
        choice = choose_start(
            self.ledger, self._klass, tiers, self.config.router, repo=inst.repo, task_id=inst.instance_id,
            models=self.models,
        )  # fmt: skip
        return choice.index

    def go_on(self, inst: Instance, nxt: int, trace: Trace) -> bool:
        from escalate.routing.giveup import Failure, decide_climb

        if not self.give_up:
            return True
        failures = [Failure(TIER_NAMES[t], "tests") for t in trace.tried]
        climb = decide_climb(
            self.ledger, self._klass, TIER_NAMES, nxt, failures, self.config.router, repo=inst.repo,
            models=self.models, task_id=inst.instance_id,
        )  # fmt: skip
        return climb.climb

    def record(self, inst: Instance, trace: Trace) -> None:
        run = self.ledger.record_run_start(repo=inst.repo, source="replay")
        self.ledger.record_task(
            run,
            kind="issue",
            slug=inst.instance_id,
            complexity=self._klass.complexity,
            error_cost=self._klass.error_cost,
        )
        for tier in trace.tried:
            verdict = "pass" if inst.resolved[tier] else "fail"
            name = TIER_NAMES[tier]
            self.ledger.record_attempt(run, name, self.models[name], 1, verdict, "tests", "", inst.cost[tier])
        outcome = "fixed" if trace.resolved else "needs_human"
        self.ledger.record_outcome(run, outcome, trace.cost, TIER_NAMES[trace.tried[-1]])

    def close(self) -> None:
        self.ledger.close()


# ---------------------------------------------------------------- running and summarising


@dataclass
class ArmResult:
    name: str
    cost: list[float]  # per instance, in table order, mean over the orders
    resolved: list[float]
    per_order: list[dict]  # {"order", "cost", "resolved", "per_resolved"} per order
    starts: list[list[int]]  # per order: count of starts per tier
    gave_up: list[int]  # per order


def run_arm(
    make: Callable[[], Policy], items: Sequence[Instance], orders: Sequence[Sequence[int]], top_only=False
) -> ArmResult:
    n = len(items)
    cost, solved = [0.0] * n, [0.0] * n
    per_order, starts, gave = [], [], []
    for k, order in enumerate(orders):
        policy = make()
        total, count, start_counts, g = 0.0, 0, [0, 0, 0], 0
        try:
            for i in order:
                t = cascade(policy, items[i], top_only)
                cost[i] += t.cost / len(orders)
                solved[i] += t.resolved / len(orders)
                total += t.cost
                count += t.resolved
                start_counts[t.start] += 1
                g += t.gave_up
        finally:
            policy.close()
        name = policy.name
        per_order.append(
            {"order": k, "cost": total, "resolved": count, "per_resolved": total / max(count, 1)}
        )
        starts.append(start_counts)
        gave.append(g)
    return ArmResult(name, cost, solved, per_order, starts, gave)


def oracle_arm(name: str, items: Sequence[Instance], strict: bool) -> ArmResult:
    traces = [oracle(x, strict) for x in items]
    cost = [t.cost for t in traces]
    solved = [float(t.resolved) for t in traces]
    total, count = sum(cost), sum(solved)
    starts = [sum(1 for t in traces if t.tried and t.tried[0] == s) for s in range(3)]
    return ArmResult(
        name,
        cost,
        solved,
        [{"order": 0, "cost": total, "resolved": count, "per_resolved": total / max(count, 1)}],
        [starts],
        [0],
    )


def bootstrap(cost: list[float], solved: list[float], *, reps: int = 2000, seed: int = 7) -> dict:
    """Point and 95% percentile intervals of $/resolved and resolve rate, resampling instances."""
    rng = random.Random(seed)
    n = len(cost)
    per, rate = [], []
    for _ in range(reps):
        idx = [rng.randrange(n) for _ in range(n)]
        c = sum(cost[i] for i in idx)
        s = sum(solved[i] for i in idx)
        per.append(c / s if s else float("inf"))
        rate.append(s / n)
    per.sort()
    rate.sort()
    lo, hi = int(0.025 * reps), int(0.975 * reps) - 1
    total, count = sum(cost), sum(solved)
    return {
        "per_resolved": total / count if count else None,
        "per_resolved_ci": [per[lo], per[hi]],
        "resolve_rate": count / n,
        "resolve_rate_ci": [rate[lo], rate[hi]],
        "total_cost": total,
        "resolved": count,
    }


def paired_ratio(a: ArmResult, b: ArmResult, *, reps: int = 2000, seed: int = 11) -> dict:
    """$/resolved of arm a over arm b on the same resampled instances (paired bootstrap)."""
    rng = random.Random(seed)
    n = len(a.cost)

    def ratio(idx: Sequence[int]) -> float:
        pa = sum(a.cost[i] for i in idx) / max(sum(a.resolved[i] for i in idx), 1e-9)
        pb = sum(b.cost[i] for i in idx) / max(sum(b.resolved[i] for i in idx), 1e-9)
        return pa / pb

    point = ratio(range(n))
    draws = sorted(ratio([rng.randrange(n) for _ in range(n)]) for _ in range(reps))
    return {"ratio": point, "ci": [draws[int(0.025 * reps)], draws[int(0.975 * reps) - 1]]}


def orders_for(n: int, shuffles: int) -> list[list[int]]:
    out = [list(range(n))]
    for seed in range(1, shuffles + 1):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        out.append(order)
    return out


def replay_ladder(
    ladder: Ladder,
    rows: list[dict],
    shuffles: int,
    workdir: Path,
    value_multiple: float,
    sweep: Sequence[float],
) -> dict:
    items = instances(rows, ladder)
    orders = orders_for(len(items), shuffles)
    counter = iter(range(10**6))
    # What a fix is worth (router.value_usd) in this ladder's money: a multiple of a top-tier visit's
    # mean cost (the published mean $ per issue of the top run; 5 units at list prices).
    top_cost = sum(x.cost[2] for x in items) / len(items)

    def router(name: str, **cfg: object) -> Callable[[], Policy]:
        return lambda: Router(f"{name}-{next(counter)}", ladder, workdir, **cfg)

    def arm(name: str, **cfg: object) -> ArmResult:
        return rename(run_arm(router(name.replace(" ", "-"), **cfg), items, orders), name)

    value = value_multiple * top_cost
    arms = [
        run_arm(lambda: Fixed("always-cheapest", 0), items, orders),
        run_arm(lambda: Fixed("always-top", 2), items, orders, top_only=True),
        arm("router (learning off)", learning=False),
        arm("router (learning on)", learning=True, value_usd=value),
        arm("router (start only, no give-up)", learning=True, give_up=False),
        *[arm(f"router (value {m:g}x top)", learning=True, value_usd=m * top_cost) for m in sweep],
        oracle_arm("oracle", items, strict=False),
        oracle_arm("strict oracle", items, strict=True),
    ]
    by = {a.name: a for a in arms}
    out = {
        "ladder": ladder.name,
        "describe": ladder.describe(),
        "unit": ladder.unit,
        "value": value,
        "value_multiple": value_multiple,
        "instances": len(items),
        "orders": len(orders),
        "arms": {},
    }
    for a in arms:
        stats = bootstrap(a.cost, a.resolved)
        stats["per_order"] = a.per_order
        stats["starts"] = a.starts
        stats["gave_up"] = a.gave_up
        if a.name != "strict oracle":
            stats["vs_strict_oracle"] = paired_ratio(a, by["strict oracle"])
        if a.name not in ("always-cheapest",):
            stats["vs_always_cheapest"] = paired_ratio(a, by["always-cheapest"])
        out["arms"][a.name] = stats
    top_rate = out["arms"]["always-top"]["resolve_rate"]
    for stats in out["arms"].values():
        stats["share_of_top_rate"] = stats["resolve_rate"] / top_rate
    return out


def rename(arm: ArmResult, name: str) -> ArmResult:
    arm.name = name
    return arm


# ---------------------------------------------------------------- report


def money(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"${value:.4f}" if unit == "USD" else f"{value:.3f} u"


def report(results: dict) -> str:
    lines = [f"# Replay on real SWE-bench Verified outcomes ({results['label']})", ""]
    lines += [
        f"- command: `{results['command']}`",
        f"- commit: {results['commit']}",
        f"- started: {results['started']}",
        f"- table: {results['table']} ({results['rows']} rows)",
        f"- orders: by instance_id plus {results['shuffles']} seeded shuffles; 95% bootstrap CIs "
        "over instances (2000 resamples) of the per-instance figures averaged over the orders",
        "- the router sees only the repository and instance id (the table has no issue text), "
        "and only the outcomes of tiers it tried",
        "",
    ]
    for lad in results["ladders"]:
        unit = lad["unit"]
        lines += [f"## {lad['ladder']}: {lad['describe']}", ""]
        if "value" in lad:
            lines += [
                f"router.value_usd = {money(lad['value'], unit)} ({lad['value_multiple']:g}x the mean cost "
                "of a top-tier visit); the 'value Nx top' rows sweep it.",
                "",
            ]
        lines.append(
            "| arm | $/resolved [95% CI] | resolve rate [95% CI] | x strict oracle [CI] | x always-cheapest "
            "| % of top's rate | starts h/s/o (order 0) | gave up |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        for name, s in lad["arms"].items():
            lines.append(row(name, s, unit))
        lines.append("")
    lines += goals(results)
    return "\n".join(lines) + "\n"


def row(name: str, s: dict, unit: str) -> str:
    lo, hi = s["per_resolved_ci"]
    rlo, rhi = s["resolve_rate_ci"]

    def ratio(key: str) -> str:
        r = s.get(key)
        return f"{r['ratio']:.2f}x [{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]" if r else "1.00x"

    return (
        f"| {name} | {money(s['per_resolved'], unit)} [{money(lo, unit)}, {money(hi, unit)}] "
        f"| {s['resolve_rate']:.1%} [{rlo:.1%}, {rhi:.1%}] | {ratio('vs_strict_oracle')} "
        f"| {ratio('vs_always_cheapest')} | {s['share_of_top_rate']:.1%} "
        f"| {'/'.join(map(str, s['starts'][0]))} | {s['gave_up'][0]} |"
    )


def goals(results: dict) -> list[str]:
    out = ["## Against the goals", ""]
    for lad in results["ladders"]:
        arms = lad["arms"]
        r = arms["router (learning on)"]
        cheap = arms["always-cheapest"]
        ok_cheap = r["per_resolved"] <= cheap["per_resolved"]
        ratio = r["vs_strict_oracle"]["ratio"]
        out.append(
            f"- {lad['ladder']}: router $/resolved {'<=' if ok_cheap else '>'} always-cheapest "
            f"({r['vs_always_cheapest']['ratio']:.2f}x); {ratio:.2f}x the strict oracle (goal <= 1.3x: "
            f"{'met' if ratio <= 1.3 else 'not met'}) at {r['share_of_top_rate']:.1%} of always-top's "
            f"resolve "
            f"rate (goal >= 98%: {'met' if r['share_of_top_rate'] >= 0.98 else 'not met'})"
        )
    return out + [""]


def chart(results: dict, dest: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    ladders = results["ladders"]
    fig, axes = plt.subplots(1, len(ladders), figsize=(5.2 * len(ladders), 4.4), dpi=110)
    for ax, lad in zip(axes if len(ladders) > 1 else [axes], ladders, strict=True):
        for name, s in lad["arms"].items():
            if "value " in name:  # the sweep is in the table, not the chart
                continue
            lo, hi = s["per_resolved_ci"]
            marker = "*" if "oracle" in name else "o"
            ax.errorbar(
                [s["per_resolved"]],
                [s["resolve_rate"] * 100],
                xerr=[[s["per_resolved"] - lo], [hi - s["per_resolved"]]],
                yerr=[
                    [(s["resolve_rate"] - s["resolve_rate_ci"][0]) * 100],
                    [(s["resolve_rate_ci"][1] - s["resolve_rate"]) * 100],
                ],
                fmt=marker,
                ms=11 if marker == "*" else 6,
                capsize=2,
                label=name,
            )
        ax.set_title(f"{lad['ladder']}", fontsize=9)
        ax.set_xlabel(f"cost per resolved instance ({lad['unit']})")
        ax.set_ylabel("resolve rate (%)")
        ax.grid(True, alpha=0.3)
    axes_list = axes if len(ladders) > 1 else [axes]
    axes_list[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Replay on real SWE-bench Verified outcomes ({results['label']})", fontsize=10)
    fig.tight_layout()
    path = dest.with_suffix(".png")
    fig.savefig(path)
    plt.close(fig)
    return path


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
        return out.stdout.strip() + (" (src modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench replay", description=__doc__.split("\n\n")[0])
    p.add_argument("--table", type=Path, help="the outcomes CSV (default: ../shared/data/ beside the repo)")
    p.add_argument("--shuffles", type=int, default=4, help="seeded shuffles besides the instance_id order")
    p.add_argument("--ladder", action="append", choices=[x.name for x in LADDERS], help="(repeatable)")
    p.add_argument("--label", default="", help="suffix of the results files, e.g. before / after")
    p.add_argument(
        "--value",
        type=float,
        default=10.0,
        help="router.value_usd as a multiple of a top-tier visit's mean cost",
    )
    p.add_argument("--sweep", type=float, nargs="*", default=[2.0, 5.0, 20.0], help="more value multiples")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    table = args.table or find_table()
    rows = load_rows(table)
    started = datetime.now(UTC)
    ladders = [x for x in LADDERS if not args.ladder or x.name in args.ladder]
    label = args.label or "replay"
    results = {
        "label": label,
        "command": "python -m bench replay " + " ".join(sys.argv[2:] if argv is None else argv),
        "commit": commit(),
        "started": started.isoformat(timespec="seconds"),
        "table": table.name,
        "rows": len(rows),
        "shuffles": args.shuffles,
        "ladders": [],
    }
    with tempfile.TemporaryDirectory(prefix="escalate-replay-") as tmp:
        for ladder in ladders:
            print(f"== {ladder.name}", flush=True)
            results["ladders"].append(
                replay_ladder(ladder, rows, args.shuffles, Path(tmp), args.value, args.sweep)
            )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"replay-{started.strftime('%Y-%m-%d')}-{label}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    text = report(results)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    png = chart(results, stem)
    print(text)
    print(f"wrote {stem}.md, .json" + (f", {png.name}" if png else " (no chart: install the bench extra)"))
    return 0
