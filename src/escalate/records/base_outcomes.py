"""Test outcomes on a base commit, remembered in the ledger per (repository, commit).

What validation learns about the base (the target tests' results, the failures of the full
suite re-run on the base) holds for every later run at the same commit: a pre-existing
failure need not be re-run on the base again to be known as pre-existing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from escalate.records.migrations import now

if TYPE_CHECKING:
    from escalate.records.ledger import Ledger

OUTCOMES = ("passed", "failed", "error", "skipped", "hang")


def recall(ledger: Ledger, repo: str, commit: str) -> dict[str, str]:
    """Node id -> outcome measured at this commit of this repository by earlier runs."""
    rows = ledger.db.execute(
        "SELECT nodeid, outcome FROM base_results WHERE repo = ? AND base_commit = ?", (repo, commit)
    )
    return {r["nodeid"]: r["outcome"] for r in rows}


def remember(ledger: Ledger, repo: str, commit: str, outcomes: dict[str, str]) -> None:
    """Keep outcomes measured at this commit (the latest measure of a test wins)."""
    stamp = now()
    ledger.db.executemany(
        "INSERT OR REPLACE INTO base_results (repo, base_commit, nodeid, outcome, recorded_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            (repo, commit, nodeid, outcome, stamp)
            for nodeid, outcome in outcomes.items()
            if outcome in OUTCOMES
        ],
    )
