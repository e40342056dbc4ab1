"""``python -m bench``: every benchmark, one results file. See bench/README.md.

    python -m bench                       # everything (< 15 min on 2 cores)
    python -m bench --quick               # smoke run: 1 seed, a few tasks
    python -m bench --only economics      # one section (repeatable: --only batch --only startup)
    python -m bench replay                # the routing code replayed on real SWE-bench outcomes
    python -m bench issues                # issue-only tasks: reproduce-first vs suite-only
    python -m bench sandbox               # the sandbox's cost per test run, side by side

Writes bench/results/<date>.md and .json (and the cost/resolve chart as .png, or .svg without
matplotlib). ``--quick`` and ``--only`` runs get their own suffix, so they never overwrite a full run.
The economics arms run last, seed after seed, with whatever is left of ``--minutes``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# Run order: economics takes the rest.
SECTIONS = ("startup", "overhead", "sidebyside", "faults", "batch", "economics")
RESULTS = Path(__file__).resolve().parent / "results"
RESERVE_S = 30  # writing the report and chart


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 8 tasks, fewer repeats")
    p.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    p.add_argument("--seeds", type=int, help="seeds for the economics arms (default 3; 1 with --quick)")
    p.add_argument("--tasks", type=int, help="use only the first N corpus tasks (default: all)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel runs")
    p.add_argument(
        "--minutes",
        type=float,
        default=14.0,
        help="time budget for the whole run; an economics seed that would not fit is skipped (and said so)",
    )
    p.add_argument(
        "--max-cost",
        type=float,
        help="economics: budget.max_cost_usd per task for every arm (default: the config's, $2.00)",
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    p.add_argument(
        "--case", action="append", help="sidebyside: only this case (a suite or corpus task name; repeatable)"
    )
    return p.parse_args(argv)


def pick_tasks(tasks: list, quick: bool, limit: int | None) -> list:
    if limit:
        return tasks[:limit]
    if quick:  # every fourth task: a spread of kinds
        return tasks[::4][:8]
    return tasks


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["issues"]:  # issue-only tasks, reproduce-first vs suite-only: bench/issues.py
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench.issues import main as issues

        return issues(argv[1:])
    if argv[:1] == ["replay"]:  # the trace-driven replay on real outcomes: bench/replay.py
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench.replay import main as replay

        return replay(argv[1:])
    if argv[:1] == ["sandbox"]:  # the sandbox's cost per test run: bench/sandbox.py
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench.sandbox import main as sandbox

        return sandbox(argv[1:])
    args = parse(argv)
    # The corpus projects need no pytest plugins; not loading this venv's (xdist, timeout, the
    # sim fixtures) saves about a second per pytest run. The fault matrix turns them back on.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.corpus import load_corpus
    from bench.machine import describe

    clock = time.perf_counter()
    sections = [s for s in SECTIONS if not args.only or s in args.only]
    seeds = list(range(1, 1 + (args.seeds or (1 if args.quick else 3))))
    tasks = pick_tasks(load_corpus(), args.quick, args.tasks)
    started = datetime.now(UTC)
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    results: dict = {
        "started": started.isoformat(timespec="seconds"),
        "command": command.strip(),
        "machine": describe(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "seconds": {},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = ("-quick" if args.quick else "") + ("" if not args.only else "-" + "-".join(sections))
    suffix += f"-budget{args.max_cost:g}" if args.max_cost else ""
    stem = args.out / f"{started.strftime('%Y-%m-%d')}{suffix}"
    log = lambda text: print(text, flush=True)  # noqa: E731
    for name in sections:
        log(f"== {name}")
        t0 = time.perf_counter()
        left = args.minutes * 60 - (t0 - clock) - RESERVE_S
        results[name] = run_section(name, args, tasks, seeds, left, log)
        results["seconds"][name] = time.perf_counter() - t0
        log(f"   {name}: {results['seconds'][name]:.0f} s")
        write(stem, results)  # after every section: a crash later loses nothing done
    if "batch" in results and "economics" in results:
        from bench.batchcost import compare

        results["batch"].update(compare(results["batch"], results["economics"]))
    results["total_s"] = time.perf_counter() - clock
    write(stem, results, final=True)
    log(f"wrote {stem}.md and .json ({results['total_s'] / 60:.1f} min)")
    failed_faults = "faults" in results and results["faults"]["exit_code"] != 0
    return 1 if failed_faults else 0


def write(stem: Path, results: dict, final: bool = False) -> None:
    from bench import report
    from bench.chart import write_chart

    total = results.get("total_s") or sum(results["seconds"].values())
    lines = [
        f"# escalate benchmarks, {results['started'].replace('T', ' ')[:16]} UTC",
        "",
        "All model answers come from escalate's simulated Anthropic API (`escalate.sim`); git, ruff, "
        f"pytest and the cost arithmetic are real. `{results['command']}` took {total / 60:.1f} min"
        + ("." if final else " so far (incomplete: still running or interrupted)."),
        "",
        *report.machine_section(results["machine"], results["seconds"]),
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
        title = f"cost vs resolve rate, {len(e['tasks'])} tasks, seeds {e['seeds']}"
        chart = write_chart(points, stem, title)
        lines += report.economics_section(e) + [f"![cost against resolve rate]({chart.name})", ""]
    for name, render in (
        ("batch", report.batch_section),
        ("overhead", report.overhead_section),
        ("sidebyside", _sidebyside_section),
        ("faults", report.faults_section),
    ):
        if name in results:
            lines += render(results[name])
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    slim = dict(results)
    if "economics" in slim:  # the full rows are large; economics["calls"] keeps each call's usage and cost
        slim["economics"] = {k: v for k, v in slim["economics"].items() if k != "call_records"}
    text = json.dumps(slim, separators=(",", ":"), default=str)  # compact: every call's row is in it
    stem.with_suffix(".json").write_text(text + "\n", encoding="utf-8")


def _sidebyside_section(results: dict) -> list[str]:
    from bench.sidebyside import sidebyside_section

    return sidebyside_section(results)


def run_section(
    name: str, args: argparse.Namespace, tasks: list, seeds: list[int], left_s: float, log
) -> dict:
    if name == "startup":
        from bench.startup import run_startup

        return run_startup(5 if args.quick else 15)
    if name == "economics":
        from bench.economics import run_economics

        return run_economics(tasks, seeds, args.workers, left_s, log=log, max_cost=args.max_cost)
    if name == "batch":
        from bench.batchcost import run_batch

        # A third of the corpus (every third task) keeps the nightly flow's scans and collects in budget.
        subset = tasks if args.quick else tasks[::3]
        return run_batch(subset, seeds[0], args.workers, log=log)
    if name == "overhead":
        from bench.corpus import load_corpus
        from bench.overhead import run_overhead, suitable

        return run_overhead(tasks if suitable(tasks) else load_corpus(), 1 if args.quick else 2, log=log)
    if name == "sidebyside":
        from bench.corpus import load_corpus
        from bench.sidebyside import run_sidebyside

        return run_sidebyside(load_corpus(), 2, 2 if args.quick else 3, log=log, cases=args.case)
    if name == "faults":
        from bench.faults import run_faults

        return run_faults(args.workers, quick=args.quick)
    raise ValueError(name)


if __name__ == "__main__":
    sys.exit(main())
