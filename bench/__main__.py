"""``python -m bench``: every benchmark, one results file. See bench/README.md.

    python -m bench                       # everything (< 15 min on 2 cores)
    python -m bench --quick               # smoke run: 1 seed, a few tasks
    python -m bench --only economics      # one section (repeatable: --only batch --only startup)

Writes bench/results/<date>.md and .json (and the cost/resolve chart as .png, or .svg without
matplotlib). ``--quick`` and ``--only`` runs get their own suffix, so they never overwrite a full run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

SECTIONS = ("startup", "economics", "batch", "overhead", "faults")
RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 8 tasks, fewer repeats")
    p.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    p.add_argument("--seeds", type=int, help="seeds for the economics arms (default 3; 1 with --quick)")
    p.add_argument("--tasks", type=int, help="use only the first N corpus tasks (default: all)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel runs")
    p.add_argument(
        "--economics-minutes",
        type=float,
        default=8.0,
        help="time budget for the economics arms; a seed that would not fit is skipped and reported",
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    return p.parse_args(argv)


def pick_tasks(tasks: list, quick: bool, limit: int | None) -> list:
    if limit:
        return tasks[:limit]
    if quick:  # every fourth task: a spread of kinds
        return tasks[::4][:8]
    return tasks


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # The corpus projects need no pytest plugins; not loading this venv's (xdist, timeout, the
    # sim fixtures) saves about a second per pytest run. The fault matrix turns them back on.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench import report
    from bench.chart import write_chart
    from bench.corpus import load_corpus
    from bench.machine import describe

    sections = [s for s in SECTIONS if not args.only or s in args.only]
    seeds = list(range(1, 1 + (args.seeds or (1 if args.quick else 3))))
    tasks = pick_tasks(load_corpus(), args.quick, args.tasks)
    started = datetime.now(UTC)
    results: dict = {
        "started": started.isoformat(timespec="seconds"),
        "machine": describe(),
        "args": vars(args),
    }
    results["args"]["out"] = str(args.out)
    seconds: dict[str, float] = {}
    log = lambda text: print(text, flush=True)  # noqa: E731
    for name in sections:
        log(f"== {name}")
        t0 = time.perf_counter()
        results[name] = run_section(name, args, tasks, seeds, results, log)
        seconds[name] = time.perf_counter() - t0
        log(f"   {name}: {seconds[name]:.0f} s")
    results["seconds"] = seconds
    total = sum(seconds.values())

    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    suffix += "" if not args.only else "-" + "-".join(sections)
    stem = args.out / f"{started.strftime('%Y-%m-%d')}{suffix}"
    lines = [
        f"# escalate benchmarks, {started.strftime('%Y-%m-%d %H:%M')} UTC",
        "",
        "All model answers come from escalate's simulated Anthropic API (`escalate.sim`); git, ruff, pytest "
        f"and the cost arithmetic are real. `python -m bench {' '.join(argv or sys.argv[1:])}`".rstrip()
        + f" took {total / 60:.1f} min.",
        "",
        *report.machine_section(results["machine"], seconds),
    ]
    if "startup" in results:
        lines += report.startup_section(results["startup"])
    if "economics" in results:
        e = results["economics"]
        points = [
            (arm, s["spread"]["cost_usd"]["mean"], s["spread"]["resolve_rate"]["mean"])
            for arm, s in e["summary"].items()
            if s["spread"]["cost_usd"]
        ]
        chart = write_chart(
            points, stem, f"cost vs resolve rate, {len(e['tasks'])} tasks, seeds {e['seeds']}"
        )
        lines += report.economics_section(e) + [f"![cost against resolve rate]({chart.name})", ""]
    for name, render in (
        ("batch", report.batch_section),
        ("overhead", report.overhead_section),
        ("faults", report.faults_section),
    ):
        if name in results:
            lines += render(results[name])
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if "economics" in results:
        results["economics"].pop("call_records", None)  # large; the per-run rows keep the totals
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    log(f"wrote {stem}.md and .json ({total / 60:.1f} min)")
    failed_faults = "faults" in results and results["faults"]["exit_code"] != 0
    return 1 if failed_faults else 0


def run_section(
    name: str, args: argparse.Namespace, tasks: list, seeds: list[int], results: dict, log
) -> dict:
    if name == "startup":
        from bench.startup import run_startup

        return run_startup(5 if args.quick else 15)
    if name == "economics":
        from bench.economics import run_economics

        return run_economics(tasks, seeds, args.workers, args.economics_minutes * 60, log=log)
    if name == "batch":
        from bench.batchcost import run_batch

        return run_batch(tasks, seeds[0], args.workers, results.get("economics"), log=log)
    if name == "overhead":
        from bench.corpus import load_corpus
        from bench.overhead import run_overhead, suitable

        return run_overhead(tasks if suitable(tasks) else load_corpus(), 1 if args.quick else 3, log=log)
    if name == "faults":
        from bench.faults import run_faults

        return run_faults(args.workers, quick=args.quick)
    raise ValueError(name)


if __name__ == "__main__":
    sys.exit(main())
