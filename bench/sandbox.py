"""What the sandbox costs per test run: the corpus's full suites, sandboxed and not, side by side.

    python -m bench sandbox                 # every corpus task, 6 pairs each
    python -m bench sandbox --tasks 8 --pairs 4

For each corpus task (at its base commit) the full pytest suite runs through escalate's own
``run_command`` in three arms, in a shuffled order within each round so drift on a shared
machine hits every arm alike:

* ``plain``: no Isolation (a subprocess with RLIMIT_AS, as before the sandbox existed);
* ``none``: ``validate.sandbox: none`` (the tree caps: cgroup, rlimits, capped output);
* ``bwrap``: the sandbox (namespaces, exported tree, cleared env, read-only root) plus the caps,
  started through a gate admitted to its cgroup ahead of time (``escalate.workspace.capgate``);
* ``bwrap_own_gate``: the same sandbox started through a gate of its own, moved into its cgroup on
  the command's path (``ESCALATE_NO_EARLY_GATE=1``; how every sandboxed command started before).

Per task, the ratio of median wall times bwrap/plain (and bwrap/none, none/plain, the early gate's
gain bwrap/bwrap_own_gate, and bwrap_own_gate/plain); overall, the
geometric mean of the per-task ratios with a 95% bootstrap CI over tasks, and the median added
milliseconds per run. Writes bench/results/<date>-sandbox.md and .json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ARMS = ("plain", "none", "bwrap", "bwrap_own_gate")
RATIOS = {  # key: (numerator arm, denominator arm, label)
    "bwrap_over_plain": ("bwrap", "plain", "sandbox (bwrap + caps) / plain subprocess"),
    "bwrap_over_none": ("bwrap", "none", "sandbox (bwrap + caps) / caps only (`sandbox: none`)"),
    "none_over_plain": ("none", "plain", "caps only / plain subprocess"),
    "bwrap_over_own_gate": ("bwrap", "bwrap_own_gate", "sandbox, gate ahead / gate on the command's path"),
    "own_gate_over_plain": ("bwrap_own_gate", "plain", "sandbox, gate on the path / plain subprocess"),
}
RESULTS = Path(__file__).resolve().parent / "results"
GOAL = 0.05  # the sandbox should add under 5% to a suite run


def _isolation(arm: str):
    from escalate.workspace.sandbox import Isolation

    return None if arm == "plain" else Isolation("bwrap" if arm.startswith("bwrap") else arm)


def _timed(argv: list[str], root: Path, arm: str, timeout_s: float):
    from escalate.workspace.capgate import OFF_SWITCH
    from escalate.workspace.process import run_command

    if arm == "bwrap_own_gate":
        os.environ[OFF_SWITCH] = "1"
    try:
        started = time.perf_counter()
        result = run_command(argv, root, timeout_s=timeout_s, memory_limit_mb=2048, isolation=_isolation(arm))
        return result, time.perf_counter() - started
    finally:
        os.environ.pop(OFF_SWITCH, None)


def run_once(root: Path, arm: str) -> float:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    result, elapsed = _timed(argv, root, arm, 300)
    if result.returncode not in (0, 1):  # 1: the task's target test fails at base, as it should
        raise RuntimeError(f"{arm} run failed in {root}:\n{result.describe()[:3000]}")
    return elapsed


def geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def bootstrap_ci(values: list[float], rng: random.Random, n: int = 4000) -> tuple[float, float]:
    """95% percentile bootstrap CI of the geometric mean, resampling tasks."""
    means = sorted(geomean([rng.choice(values) for _ in values]) for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def measure(tasks, pairs: int, rng: random.Random, tmp: Path) -> list[dict]:
    from bench.corpus import materialize

    rows = []
    for task in tasks:
        root = materialize(task, tmp / task.id)
        for arm in ARMS:  # warm the page cache and the bytecode of each arm once, untimed
            run_once(root, arm)
        times: dict[str, list[float]] = {arm: [] for arm in ARMS}
        for _ in range(pairs):
            order = list(ARMS)
            rng.shuffle(order)
            for arm in order:
                times[arm].append(run_once(root, arm))
        med = {arm: statistics.median(v) for arm, v in times.items()}
        row = {"task": task.id, "median_s": med, "times_s": times}
        row.update({key: med[a] / med[b] for key, (a, b, _) in RATIOS.items()})
        row["added_ms"] = (med["bwrap"] - med["plain"]) * 1000
        row["early_gate_saved_ms"] = (med["bwrap_own_gate"] - med["bwrap"]) * 1000
        rows.append(row)
        print(f"{task.id:32} " + " ".join(f"{a} {m:.3f}s" for a, m in med.items())
              + f" x{row['bwrap_over_plain']:.3f}", file=sys.stderr)  # fmt: skip
    return rows


def _true_once(root: Path, arm: str) -> float:
    result, elapsed = _timed(["/bin/true"], root, arm, 60)
    if not result.ok:
        raise RuntimeError(f"{arm}: /bin/true failed in {root}:\n{result.describe()[:3000]}")
    return elapsed


def fixed_cost(trees: dict[str, Path], reps: int, rng: random.Random) -> list[dict]:
    """What one command costs apart from its own work: ``/bin/true`` in each arm, per tree size (the
    sandbox copies the tree into itself for every command, so its cost grows with the tree)."""
    from escalate.workspace.sandbox import tree_bytes

    rows = []
    for name, root in trees.items():
        times: dict[str, list[float]] = {arm: [] for arm in ARMS}
        for arm in ARMS:
            _true_once(root, arm)
        for _ in range(reps):
            order = list(ARMS)
            rng.shuffle(order)
            for arm in order:
                times[arm].append(_true_once(root, arm))
        files = sum(len(f) for _, _, f in os.walk(root))
        med = {arm: statistics.median(v) * 1000 for arm, v in times.items()}
        rows.append({"tree": name, "files": files, "bytes": tree_bytes(root), "median_ms": med})
        print(f"{name:32} {files:5} files  " + "  ".join(f"{a} {m:.1f} ms" for a, m in med.items()),
              file=sys.stderr)  # fmt: skip
    return rows


def copy_of_this_checkout(dest: Path) -> Path:
    """escalate's own source tree (src, tests, docs, bench; about 800 files): a real project's size."""
    import shutil

    here = Path(__file__).resolve().parents[1]
    for part in ("src", "tests", "docs", "bench"):
        shutil.copytree(here / part, dest / part, ignore=shutil.ignore_patterns("__pycache__", "results"))
    return dest


def summarize(rows: list[dict], rng: random.Random) -> dict:
    out = {}
    for key in RATIOS:
        values = [r[key] for r in rows]
        low, high = bootstrap_ci(values, rng)
        out[key] = {"geomean": geomean(values), "ci95": [low, high]}
    out["added_ms_median"] = statistics.median(r["added_ms"] for r in rows)
    out["early_gate_saved_ms_median"] = statistics.median(r["early_gate_saved_ms"] for r in rows)
    out["plain_suite_s_median"] = statistics.median(r["median_s"]["plain"] for r in rows)
    return out


def _machine(m: dict) -> str:
    load = m.get("load_average_at_start")
    return f"{m.get('cpus')} CPUs ({m.get('cpu_model')}), {m.get('os')}, load average at start {load}"


def render(results: dict) -> str:
    s = results["summary"]
    lines = [
        f"# Sandbox cost per test run ({results['started'][:10]})",
        "",
        f"`{results['command'].strip()}` on {_machine(results['machine'])}. "
        f"{len(results['rows'])} corpus tasks, "
        f"{results['pairs']} shuffled rounds each (plus one untimed warm-up per arm); tree caps: "
        f"{results['caps']}; bubblewrap {results['bwrap']}.",
        "",
        "| ratio (geometric mean over tasks) | value | 95% CI |",
        "|---|---|---|",
    ]
    for key, (_, _, label) in RATIOS.items():
        v = s[key]
        lines.append(f"| {label} | {v['geomean']:.3f} | {v['ci95'][0]:.3f} - {v['ci95'][1]:.3f} |")
    overhead = s["bwrap_over_plain"]["geomean"] - 1
    verdict = "meets" if s["bwrap_over_plain"]["ci95"][1] - 1 < GOAL else "does not meet"
    lines += [
        "",
        f"The sandbox adds **{overhead:+.1%}** to a suite run (median {s['added_ms_median']:.0f} ms on a "
        f"median suite of {s['plain_suite_s_median']:.2f} s); the upper end of the CI "
        f"{verdict} the goal of under {GOAL:.0%}. The gate admitted ahead of time saves a median "
        f"{s['early_gate_saved_ms_median']:.1f} ms per command against one admitted on the command's path.",
        "",
    ]
    if results.get("fixed"):
        lines += [
            "Fixed cost per command (`/bin/true`; median ms; the sandbox copies the tree into itself):",
            "",
            "| tree | files | MB | " + " | ".join(ARMS) + " |",
            "|---|---|---|" + "---|" * len(ARMS),
        ]
        for r in results["fixed"]:
            m = r["median_ms"]
            lines.append(f"| {r['tree']} | {r['files']} | {r['bytes'] / 1e6:.1f} | "
                         + " | ".join(f"{m[a]:.1f}" for a in ARMS) + " |")  # fmt: skip
        lines.append("")
    lines += [
        "| task | " + " | ".join(f"{a} s" for a in ARMS) + " | bwrap/plain |",
        "|---|" + "---|" * (len(ARMS) + 1),
    ]
    for r in results["rows"]:
        m = r["median_s"]
        lines.append(f"| {r['task']} | " + " | ".join(f"{m[a]:.3f}" for a in ARMS)
                     + f" | {r['bwrap_over_plain']:.3f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench sandbox", description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, help="only the first N corpus tasks")
    p.add_argument("--pairs", type=int, default=6, help="timed rounds per task (each runs every arm)")
    p.add_argument("--fixed-reps", type=int, default=15, help="rounds of the fixed-cost measure per tree")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    # The corpus needs no plugins (as elsewhere in bench/); every arm gets the variable (PYTEST_* passes
    # the sandbox's allow-list), so the arms differ only in their isolation.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    from bench.corpus import load_corpus
    from bench.machine import describe
    from escalate.workspace.sandbox import probe_bwrap
    from escalate.workspace.treelimits import tree_limits

    probe = probe_bwrap()
    if not probe.ok:
        print(f"bench sandbox: {probe.reason}", file=sys.stderr)
        return 2
    caps = tree_limits(2048, 256, 1024)
    caps.close()
    rng = random.Random(args.seed)
    tasks = load_corpus()[: args.tasks] if args.tasks else load_corpus()
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        rows = measure(tasks, args.pairs, rng, Path(tmp))
        from bench.corpus import materialize

        trees = {
            f"corpus: {tasks[0].id}": materialize(tasks[0], Path(tmp) / "fixed-small"),
            "escalate's own source tree": copy_of_this_checkout(Path(tmp) / "fixed-large"),
        }
        fixed = fixed_cost(trees, args.fixed_reps, rng)
    results = {
        "started": started.isoformat(timespec="seconds"),
        "command": "python -m bench sandbox " + " ".join(argv if argv is not None else sys.argv[2:]),
        "machine": describe(),
        "caps": caps.kind,
        "bwrap": "with --size tmpfs" if probe.tmpfs_size else "without --size",
        "pairs": args.pairs,
        "rows": rows,
        "summary": summarize(rows, rng),
        "fixed": fixed,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{started:%Y-%m-%d}-sandbox"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    stem.with_suffix(".md").write_text(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
