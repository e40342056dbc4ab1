"""The results as Markdown: one section per benchmark, tables a person can quote."""

from __future__ import annotations

ARM_NOTES = {
    "always-haiku": "claude-haiku-4-5 only",
    "always-sonnet": "claude-sonnet-4-6 only",
    "always-opus": "claude-opus-4-6 only",
    "ladder": "default config: haiku-4-5 -> sonnet-4-6 -> opus-4-6",
    "ladder-5.5": "haiku-5-5 -> sonnet-5-5 -> opus-5-5 (5.5 prices)",
    "plan-execute": "roles.preset: plan-execute (planner on opus, then the ladder)",
    "learning": "ladder + router.learning, the ladder arm's runs of the seed as ledger history",
    "oracle": "strict: cheapest single tier that solved each task, $0 where none did (hindsight bound)",
}


def row(*cells: str) -> str:
    """A Markdown table row; pipes and newlines inside cells are escaped."""
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def money(x: float | None) -> str:
    return "n/a" if x is None else f"${x:.4f}"


def spread_str(s: dict | None, fmt) -> str:
    """median [min-max] over seeds, or the single value."""
    if not s:
        return "n/a"
    if s["n"] == 1 or s["min"] == s["max"]:
        return fmt(s["median"])
    return f"{fmt(s['median'])} [{fmt(s['min'])}-{fmt(s['max'])}]"


def machine_section(m: dict, seconds: dict) -> list[str]:
    load = m.get("load_average_at_start")
    return [
        "## Machine",
        "",
        f"- CPUs: {m['cpus']} x {m['cpu_model']}; RAM {m['ram_gib']} GiB; {m['os']}",
        f"- Python {m['python']}; anthropic {m['anthropic']}; {m['ruff']}; pytest {m['pytest']}; "
        f"escalate {m['escalate']}",
        f"- load average at start: {load} (other work on the machine slows every wall-clock figure)",
        "- section wall times: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()),
        "",
    ]


def oracle_lines(o: dict | None) -> list[str]:
    """What the simulated models do: the joint outcome table and the token traces."""
    if not o:
        return []
    runs = ", ".join(f"{line} = `{run}`" for line, run in o["runs"].items())
    patterns = ", ".join(
        "".join("HSO"[i] if f else "-" for i, f in enumerate(p["resolved"])) + f" {p['rows']}"
        for p in o["patterns"]
    )
    marginal = " / ".join(pct(v) for v in o["marginal"].values())
    t = o["trace"]
    return [
        f"Outcomes: each task draws its joint outcome across the tiers from the {o['rows']} rows of "
        f"`../shared/data/swebench-verified-outcomes.csv` ({runs}; one scaffold). Pattern counts "
        f"(H/S/O = resolved by haiku/sonnet/opus): {patterns}. Marginal resolve rates {marginal}; "
        f"{pct(o['none_resolves'])} of rows no tier resolves. A tier whose flag is set fixes the task on "
        "its first attempt; one whose flag is clear fails every attempt.",
        "",
        f"Token traces: {t['turns'][0]}-{t['turns'][1]} model turns per attempt (uniform), the context "
        f"brought to {t['start_tokens']:,} input tokens by the first tool result and grown by "
        f"{t['step_tokens'][0]:,}-{t['step_tokens'][1]:,} per turn (capped at {t['max_context']:,}); "
        f"`session.max_turns` {o['max_turns']}. Cache reads are whatever the runner's `cache_control` "
        "breakpoints let the sim's prefix cache find. Costs are usage x `reference/prices.yml`.",
        "",
    ]


def ci(point: float | None, bounds: list[float] | None, fmt) -> str:
    if point is None:
        return "n/a"
    if not bounds:
        return fmt(point)
    shown = [fmt(b) if b != float("inf") else "inf" for b in bounds]
    return f"{fmt(point)} [{shown[0]}, {shown[1]}]"


def cache_cell(c: dict | None) -> str:
    if not c or c["implementer"] is None:
        return "n/a"
    tiers = ", ".join(f"{t} {pct(v)}" for t, v in c["per_tier"].items() if v is not None)
    return f"{pct(c['implementer'])} ({tiers}); all calls {pct(c['all_calls'])}"


def economics_section(e: dict) -> list[str]:
    seeds = e["seeds"]
    out = [
        "## Routing economics",
        "",
        f"{len(e['tasks'])} corpus tasks x {len(seeds)} seed(s) {seeds}"
        + (
            f" (asked for {e['seeds_asked']}; the rest would not fit the time budget)"
            if seeds != e["seeds_asked"]
            else ""
        )
        + f", {e['seconds']:.0f} s. Each cell is the median over seeds [min-max]. Every run is a real "
        "`run_task` on a materialized git repo (ruff, target tests, full suite) against the sim's oracle "
        "mode (outcomes and token traces below). *Resolved* counts "
        "fixes that are the real fix; *false fixes* are wrong patches validation let through.",
        "",
        *oracle_lines(e.get("sim_oracle")),
        *(
            [f"Budget: `budget.max_cost_usd` {e['max_cost_usd']:g} per task for every arm (default 2).", ""]
            if e.get("max_cost_usd")
            else []
        ),
        "Resolve rate, $ / resolved and the multiple of the strict oracle's $ / resolved are pooled over "
        "the seeds with 95% bootstrap intervals (tasks resampled, each with all its seeds' runs; paired "
        "with the oracle). Cache-read share: cache reads over all input tokens of the implementer's calls "
        "across a tier's attempts (per tier in brackets), then over all the arm's calls (roles included).",
        "",
        "| arm | what | resolve rate [95% CI] | total $ per seed | $ / resolved [95% CI] "
        "| x strict oracle [95% CI] | PGR | calls | cache-read share | false fixes "
        "| escalation rate per tier |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = [*e["arms"], "oracle"]
    pooled = e.get("pooled") or {}
    for arm in order:
        if arm not in e["summary"]:
            continue
        s = e["summary"][arm]["spread"]
        p = pooled.get(arm, {})
        esc = ", ".join(
            f"{t} {r * 100:.0f}%" for t, r in s["escalation_rate"].items() if len(s["escalation_rate"]) > 1
        )
        out.append(
            row(
                arm,
                ARM_NOTES.get(arm, ""),
                ci(p.get("resolve_rate"), p.get("resolve_rate_ci"), pct),
                spread_str(s["cost_usd"], money),
                ci(p.get("usd_per_resolved"), p.get("usd_per_resolved_ci"), money),
                ci(p.get("x_oracle"), p.get("x_oracle_ci"), lambda x: f"{x:.2f}x"),
                spread_str(s["pgr"], lambda x: f"{x:.2f}"),
                spread_str(s["calls"], lambda x: f"{x:.0f}"),
                cache_cell(p.get("cache")),
                spread_str(s["false_fixes"], lambda x: f"{x:.0f}"),
                esc or "-",
            )
        )
    for arm, why in e["unavailable"].items():
        out.append(f"| {arm} | {ARM_NOTES.get(arm, '')} | not available yet: {why} | | | | | | | | |")
    for seed, n in (e.get("learning_starts_moved") or {}).items():
        out.append("")
        out.append(
            f"Learning, seed {seed}: the start tier differed from the ladder's on {n} of {len(e['tasks'])} "
            "tasks" + (" (the ledger's history confirmed every rule-based start)." if not n else ".")
        )
    out += [
        "",
        "PGR (performance gap recovered) = (R_arm - R_always-haiku) / (R_always-opus - R_always-haiku), per "
        "seed; n/a when Opus resolves no more than Haiku on that seed. Escalation rate per tier: of the "
        "tasks that reached a tier, the share that went on to the next one.",
        "",
    ]
    return out


def overhead_section(o: dict) -> list[str]:
    med = o["median"]
    out = [
        "## Runner overhead",
        "",
        "`escalate fix` as a subprocess against a zero-delay sim; the scripted model makes a wrong patch, "
        "then the fix (2 attempts; the default config's explorer, reviewer and commit writer run too). "
        "Medians over the tasks:",
        "",
        "| figure | seconds |",
        "|---|---|",
    ]
    labels = [
        ("wall_s", "`escalate fix` wall time"),
        ("model_s", "inside API calls (loopback round trips, client-measured)"),
        ("failed_attempt_validation_s", "validation of the failed attempt (stopped at the target tests)"),
        ("passing_attempt_validation_s", "validation of the passing attempt (ruff, targets, full suite)"),
        ("hand_pytest_suite_s", "by hand: `pytest` (full suite)"),
        ("hand_pytest_targets_s", "by hand: `pytest <target tests>`"),
        ("hand_ruff_s", "by hand: `ruff check .`"),
        (
            "runner_own_s",
            "runner's own time: wall - API - attempt validation - (pytest + ruff for the baseline)",
        ),
    ]
    for key, label in labels:
        value = med.get(key)
        out.append(f"| {label} | {'n/a' if value is None else f'{value:.2f}'} |")
    out += [
        row(
            "of which process start-up importing anthropic, git, pydantic",
            f"{o['import_sdk_git_pydantic_s']:.2f}",
        ),
        "",
        row("task", "outcome", "attempts", "wall", "API", "failed attempt", "passing attempt", "by hand"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in o["rows"]:
        out.append(
            row(
                r["task"],
                r["outcome"],
                ", ".join(r["verdicts"]),
                _s(r["wall_s"]),
                _s(r["model_s"]),
                _s(r["failed_attempt_validation_s"]),
                _s(r["passing_attempt_validation_s"]),
                _s(r["hand_total_s"]) + " (pytest + ruff)",
            )
        )
    out.append("")
    return out


def _s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def batch_section(b: dict) -> list[str]:
    m = b["measured"]
    out = [
        "## Batch against interactive",
        "",
        f"Seed {b['seed']}. **Measured**: the nightly flow (`batch.submit` + `collect`) through "
        "the sim's Message Batches endpoints with the oracle, up to 3 nights per repository (a task that "
        "fails goes one tier up the next night), billed at batch prices. **Computed**: the interactive "
        "ladder's own calls priced with `PriceTable.cost(batch=True)`.",
        "",
        "| | tasks fixed | total $ |",
        "|---|---|---|",
        row(
            "batch, measured (one-shot requests, nightly)", f"{m['fixed']}/{m['tasks']}", money(m["cost_usd"])
        ),
    ]
    if "interactive_ladder" in b:
        i, c = b["interactive_ladder"], b["computed"]
        out.append(
            f"| interactive ladder, measured | {i['resolved']}/{m['tasks']} | {money(i['cost_usd'])} |"
        )
        out.append(
            f"| interactive ladder's calls at batch prices, computed | (same) | {money(c['batch_usd'])} "
            f"({c['batch_usd'] / c['interactive_usd'] * 100:.0f}% of {money(c['interactive_usd'])}) |"
        )
    nights = [r["nights"] for r in m["rows"] if r.get("nights")]
    if nights:
        out.append("")
        out.append(f"Nights used per repository: {dict(sorted(_count(nights).items()))}.")
    if m["errors"]:
        out += ["", "Errors: " + "; ".join(m["errors"][:5])]
    out.append("")
    return out


def _count(values: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def startup_section(s: dict) -> list[str]:
    heavy = [name for name, on in s["heavy_imported"].items() if on]
    return [
        "## Start-up",
        "",
        f"Median of {s['repeat']} runs each, in subprocesses (time.perf_counter):",
        "",
        "| command | seconds |",
        "|---|---|",
        f"| `python -c pass` | {s['python_c_pass_s']:.3f} |",
        f"| `{s['command']}` | {s['escalate_help_s']:.3f} |",
        f"| difference | {s['overhead_s']:.3f} |",
        "",
        f"Modules imported by `--help`: {s['modules_total']} in all; escalate's own: "
        f"{', '.join(s['escalate_modules'])}. Heavy imports at `--help`: {', '.join(heavy) or 'none'} "
        f"(checked: {', '.join(s['heavy_imported'])}).",
        "",
    ]


def faults_section(f: dict) -> list[str]:
    rows = f["rows"]
    passed = sum(r["passed"] for r in rows)
    out = [
        "## Fault matrix",
        "",
        f"`tests/test_fault_matrix.py`, run with `--junitxml`: {passed}/{len(rows)} cases pass "
        f"(pytest exit code {f['exit_code']}).",
        "",
        "| fault | expected | observed | pass |",
        "|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: r["test"]):
        out.append(row(r["fault"], r["expected"], r["observed"], "yes" if r["passed"] else "**NO**"))
    out.append("")
    return out
