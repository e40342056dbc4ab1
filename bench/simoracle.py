"""What the sim bench's simulated models do: real joint outcomes and realistic token traces.

**Outcomes.** Each corpus task draws its joint outcome across the three tiers from the shared
SWE-bench Verified table (../shared/data/swebench-verified-outcomes.csv): the pattern of which of
the Claude runs of one scaffold (Anthropic "tools": 3.5 Haiku, Sonnet 4, Opus 4) resolved an issue,
with the frequency that pattern has in the table. A tier whose flag is set fixes the task on its
first attempt; one whose flag is clear fails every attempt (the table holds one run per model, so
it says nothing about retries). No correlation is assumed: tasks only Opus solves, tasks no tier
solves and tasks Haiku solves but Sonnet misses come as often as they did in reality.

**Token traces** (``escalate.sim.trace``): 10-40 model turns per attempt, the context growing from
about 10K input tokens by 1.5K-3.5K per exploring turn, capped at 150K; the runner's ``cache_control``
breakpoints decide what the sim reads from cache. The bench lets an attempt run 40 turns
(``session.max_turns``) so the runner's turn limit does not cut the traces short.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bench.replay_data import LADDERS, find_table, load_rows

LINES = ("haiku", "sonnet", "opus")
# One scaffold for the three tiers (the data README: keep one scaffold per ladder).
RUNS = LADDERS[0].runs  # tools_haiku35, tools_sonnet4, tools_opus4
TRACE = {
    "turns": [10, 40],
    "start_tokens": 10_000,
    "step_tokens": [1_500, 3_500],
    "note_tokens": [40, 240],
    "max_context": 150_000,
}
MAX_TURNS = 40  # session.max_turns for bench runs: the longest trace fits


@lru_cache(maxsize=2)
def joint_table(path: Path | None = None):
    """The table's rows counted into outcome patterns over (haiku, sonnet, opus)."""
    from escalate.sim.joint import JointTable

    rows = load_rows(path or find_table())
    flags = [tuple(row[f"{run}_resolved"] == "1" for run in RUNS) for row in rows]
    return JointTable.from_rows(list(LINES), flags)


def describe(path: Path | None = None) -> dict:
    """The oracle's settings for the results file: the runs, the pattern counts, the trace."""
    table = joint_table(path)
    total = sum(w for _, w in table.patterns)
    marginal = {line: sum(w for p, w in table.patterns if p[i]) / total for i, line in enumerate(table.lines)}
    return {
        "runs": dict(zip(LINES, RUNS, strict=True)),
        "rows": int(total),
        "patterns": [{"resolved": [int(f) for f in p], "rows": int(w)} for p, w in table.patterns],
        "marginal": marginal,
        "none_resolves": table.frequencies().get((False, False, False), 0.0),
        "trace": dict(TRACE),
        "max_turns": MAX_TURNS,
    }
