"""The nightly job's memory between runs, in the ledger (tables ``batch_queue`` and ``batch_tasks``).

One ``batch_queue`` row per task slug (the slug is stable across nights and is the
request's ``custom_id``). Its state says what the next ``batch submit`` does with the task:

- ``waiting``: send it in the next batch, on ``tier`` (a failed fix moves it one tier up;
  an errored, expired or canceled request keeps its tier);
- ``in_batch``: a batch holding it is in flight; not sent again;
- ``fixed`` / ``needs_human``: left out of new batches for ``batch.hold_days``;
- ``resolved``: the finding is gone (the test passes again, the warning disappeared).

``batch_tasks`` rows carry one request each: ``state`` is ``pending`` until its result is
handled, then the result's fate (``fixed``, ``failed``, ``errored``, ``expired``, ...);
handling only ``pending`` rows is what makes a second ``batch collect`` a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from escalate.records.migrations import now

if TYPE_CHECKING:
    from escalate.records.ledger import Ledger

WAITING, IN_BATCH, FIXED, NEEDS_HUMAN, RESOLVED = "waiting", "in_batch", "fixed", "needs_human", "resolved"
HELD = (FIXED, NEEDS_HUMAN)


@dataclass
class QueueEntry:
    slug: str
    kind: str
    title: str | None
    state: str
    tier: str | None
    reason: str | None
    model: str | None
    input_tokens: int | None
    max_tokens: int | None
    detail: str | None
    updated_at: str


class Queue:
    """Reads and writes the queue through an open ledger; every write commits at once."""

    def __init__(self, ledger: Ledger) -> None:
        self.db = ledger.db

    def get(self, slug: str) -> QueueEntry | None:
        row = self.db.execute("SELECT * FROM batch_queue WHERE slug = ?", (slug,)).fetchone()
        return QueueEntry(**dict(row)) if row else None

    def entries(self, *states: str) -> list[QueueEntry]:
        sql = "SELECT * FROM batch_queue"
        if states:
            sql += f" WHERE state IN ({', '.join('?' * len(states))})"
        rows = self.db.execute(sql + " ORDER BY updated_at, slug", states)
        return [QueueEntry(**dict(r)) for r in rows]

    def put(
        self,
        slug: str,
        *,
        kind: str,
        title: str | None,
        state: str,
        tier: str | None = None,
        reason: str | None = None,
        model: str | None = None,
        input_tokens: int | None = None,
        max_tokens: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Insert or replace the task's row; unset request estimates keep their earlier values."""
        old = self.get(slug)
        if old is not None:
            model = model or old.model
            input_tokens = input_tokens if input_tokens is not None else old.input_tokens
            max_tokens = max_tokens if max_tokens is not None else old.max_tokens
            tier = tier or old.tier
        self.db.execute(
            "INSERT OR REPLACE INTO batch_queue (slug, kind, title, state, tier, reason, model, input_tokens,"
            " max_tokens, detail, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (slug, kind, title, state, tier, reason, model, input_tokens, max_tokens, detail, now()),
        )

    def held(self, entry: QueueEntry | None, hold_days: float) -> bool:
        """Whether a fixed or needs-human task is still kept out of new batches."""
        if entry is None or entry.state not in HELD:
            return False
        since = datetime.fromisoformat(entry.updated_at)
        return datetime.now(UTC) - since < timedelta(days=hold_days)

    def in_flight(self) -> set[str]:
        """custom_ids of requests in batches not yet collected (or whose submit is unconfirmed)."""
        rows = self.db.execute(
            "SELECT t.custom_id FROM batch_tasks t JOIN batches b ON b.id = t.batch_id"
            " WHERE t.state IN ('pending', 'applying') AND b.status IN ('submitting', 'submitted')"
        )
        return {r[0] for r in rows}

    # -- batch_tasks results -------------------------------------------------------------------

    def finish_request(
        self,
        batch_id: str,
        custom_id: str,
        *,
        state: str,
        result_type: str,
        detail: str = "",
        cost: Decimal | None = None,
        interactive_cost: Decimal | None = None,
        run_id: str | None = None,
    ) -> None:
        self.db.execute(
            "UPDATE batch_tasks SET state = ?, result_type = ?, detail = ?, cost_usd = ?,"
            " interactive_cost_usd = ?, run_id = COALESCE(?, run_id), updated_at = ?"
            " WHERE batch_id = ? AND custom_id = ?",
            (
                state,
                result_type,
                detail,
                round(float(cost), 6) if cost is not None else None,
                round(float(interactive_cost), 6) if interactive_cost is not None else None,
                run_id,
                now(),
                batch_id,
                custom_id,
            ),
        )

    def claim(self, batch_id: str, custom_id: str) -> bool:
        """Move a pending request to ``applying``; False when another collect already took it."""
        cur = self.db.execute(
            "UPDATE batch_tasks SET state = 'applying', updated_at = ? WHERE batch_id = ? AND custom_id = ?"
            " AND state = 'pending'",
            (now(), batch_id, custom_id),
        )
        return cur.rowcount == 1
