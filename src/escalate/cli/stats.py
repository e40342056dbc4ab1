"""`escalate stats`: success rate and cost per task class and tier, from the ledger."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from escalate.config import load_config
from escalate.llm.pricing import fmt_usd
from escalate.records.ledger import Ledger

UNCLASSIFIED = "unclassified"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _money(value: float) -> float:
    return round(value, 6)


def collect(ledger: Ledger, tier_order: Sequence[str] = ()) -> dict:
    """Per class and tier: tasks, success rate, $ per success, escalation and circular-fix rates.

    A tier's "tasks" are the tasks that reached it; "success" means an attempt on that tier
    passed; "escalated" means it did not and the run went on to another tier. Class totals
    come from finished runs (their outcome and full cost, roles and hand-overs included).
    Tiers are listed in `tier_order` (the configured ladder), then any others by first use.
    """
    visits = ledger.tier_visits()
    seen = list(dict.fromkeys([*tier_order, *(v.tier for v in visits)]))
    classes: dict[tuple, dict] = {}
    for v in visits:
        c = classes.setdefault((v.complexity, v.error_cost), {"runs": set(), "tiers": {}})
        c["runs"].add(v.run_id)
        t = c["tiers"].setdefault(
            v.tier, [0, 0, 0, 0.0, 0, 0]
        )  # tasks, solved, attempts, cost, escal., circ.
        t[0] += 1
        t[1] += v.solved
        t[2] += v.attempts
        t[3] += v.cost_usd
        t[4] += v.escalated
        t[5] += v.circular
    totals = {(o.complexity, o.error_cost): o for o in ledger.class_outcomes()}
    out = []
    for key in sorted(set(classes) | set(totals), key=lambda k: (k[0] is None, k)):
        c = classes.get(key, {"runs": set(), "tiers": {}})
        done = totals.get(key)
        fixed = done.fixed if done else 0
        cost = done.cost_usd if done else 0.0
        out.append(
            {
                "class": f"{key[0]}/{key[1]}" if key[0] else UNCLASSIFIED,
                "complexity": key[0],
                "error_cost": key[1],
                "tasks": len(c["runs"]),
                "finished": done.runs if done else 0,
                "fixed": fixed,
                "fix_rate": _rate(fixed, done.runs) if done else None,
                "cost_usd": _money(cost),
                "cost_per_fix_usd": _money(cost / fixed) if fixed else None,
                "tiers": [
                    {
                        "tier": name,
                        "tasks": t[0],
                        "solved": t[1],
                        "success_rate": _rate(t[1], t[0]),
                        "attempts": t[2],
                        "cost_usd": _money(t[3]),
                        "cost_per_success_usd": _money(t[3] / t[1]) if t[1] else None,
                        "escalation_rate": _rate(t[4], t[0]),
                        "circular_rate": _rate(t[5], t[0]),
                    }
                    for name in seen
                    if (t := c["tiers"].get(name))
                ],
            }
        )
    return {"ledger": str(ledger.path), "classes": out}


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _usd(value: float | None) -> str:
    return "-" if value is None else fmt_usd(value)


def render(data: dict) -> str:
    """The human table for `collect()`'s result."""
    if not data["classes"]:
        return f"No runs recorded in {data['ledger']} yet."
    header = ("class", "tier", "tasks", "success", "$/success", "spent", "escalated", "circular")
    rows: list[tuple[str, ...]] = [header]
    for c in data["classes"]:
        for i, t in enumerate(c["tiers"]):
            rows.append(
                (
                    c["class"] if i == 0 else "",
                    t["tier"],
                    str(t["tasks"]),
                    f"{_pct(t['success_rate'])} ({t['solved']})",
                    _usd(t["cost_per_success_usd"]),
                    fmt_usd(t["cost_usd"]),
                    _pct(t["escalation_rate"]),
                    _pct(t["circular_rate"]),
                )
            )
        rows.append(
            (
                "" if c["tiers"] else c["class"],
                "all",
                str(c["finished"]),
                f"{_pct(c['fix_rate'])} ({c['fixed']})",
                _usd(c["cost_per_fix_usd"]),
                fmt_usd(c["cost_usd"]),
                "",
                "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"Ledger: {data['ledger']}"]
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [cell.rjust(w) for cell, w in zip(r[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.append("Tier rows count the tasks that reached the tier; 'all' rows count finished runs.")
    return "\n".join(lines)


@click.command()
@click.option(
    "--repo", type=click.Path(file_okay=False, path_type=Path), default=".", help="Repository root."
)
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
def stats(repo: Path, as_json: bool) -> None:
    """Per task class and tier: tasks, success rate, $ per success, escalation and circular-fix rates.

    Reads the ledger configured in ledger.path (default .escalate/ledger.db under --repo).
    """
    config = load_config(repo)
    path = Path(config.ledger.path)
    path = path if path.is_absolute() else repo / path
    if path.is_file():
        with Ledger.open(path) as ledger:
            data = collect(ledger, [t.name for t in config.tiers])
    else:  # no runs yet: nothing to report, and no reason to create an empty file
        data = {"ledger": str(path), "classes": []}
    click.echo(json.dumps(data, indent=2) if as_json else render(data))
