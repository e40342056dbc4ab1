"""The shared SWE-bench Verified outcomes table as replayable instances, and the ladders built on it.

One row per instance: which runs resolved it and what each cost. A ladder picks three runs as the
cheap, middle and top tiers and says how an attempt is charged: the run's measured dollars, or a
fixed price per attempt (list prices 1:3:5 for the runs without a cost column).
See ../shared/data/README.md for the columns and caveats.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "swebench-verified-outcomes.csv"


@dataclass(frozen=True)
class Ladder:
    name: str
    runs: tuple[str, str, str]  # cheap, middle, top
    prices: tuple[float, float, float] | None  # per attempt; None = the runs' measured dollars
    unit: str  # "USD" or "units" (a cheap-tier attempt at list prices = 1)

    def describe(self) -> str:
        charge = (
            "measured $ per run"
            if self.prices is None
            else "per attempt " + ":".join(f"{p:g}" for p in self.prices)
        )
        return f"{' -> '.join(self.runs)} ({charge})"


LADDERS = (
    Ladder("claude-list-1:3:5", ("tools_haiku35", "tools_sonnet4", "tools_opus4"), (1.0, 3.0, 5.0), "units"),
    Ladder("gpt5-measured", ("mini_gpt5nano", "mini_gpt5mini", "mini_gpt5"), None, "USD"),
    Ladder("mixed-measured", ("mini_gpt5mini", "mini_sonnet4", "mini_opus4"), None, "USD"),
)


@dataclass(frozen=True)
class Instance:
    """One issue on one ladder: per tier, did that run resolve it and what it cost."""

    instance_id: str
    repo: str
    difficulty: str  # hindsight: for slicing results only, never shown to a policy
    resolved: tuple[bool, bool, bool]
    cost: tuple[float, float, float]


def load_rows(path: Path = DEFAULT_TABLE) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def instances(rows: list[dict[str, str]], ladder: Ladder) -> list[Instance]:
    out = []
    for row in rows:
        resolved = tuple(row[f"{run}_resolved"] == "1" for run in ladder.runs)
        if ladder.prices is None:
            cost = tuple(float(row[f"{run}_cost_usd"]) for run in ladder.runs)
        else:
            cost = ladder.prices
        out.append(Instance(row["instance_id"], row["repo"], row["difficulty"], resolved, cost))  # type: ignore[arg-type]
    return out


VENDORED_TABLE = Path(__file__).resolve().parent / "data" / DEFAULT_TABLE.name


def find_table() -> Path:
    """The shared table beside the checkout (../shared/data, also from a worktree one level deeper),
    else the copy kept in bench/data/ so that a clone alone can replay and test."""
    here = Path(__file__).resolve().parents[1]
    for base in (here.parent, here.parent.parent):
        path = base / "shared" / "data" / DEFAULT_TABLE.name
        if path.exists():
            return path
    if VENDORED_TABLE.exists():
        return VENDORED_TABLE
    raise SystemExit(f"no {DEFAULT_TABLE.name} in ../shared/data/ or bench/data/; pass --table PATH")
