"""The ledger: every run, task class, API call, attempt, routing decision and outcome, in SQLite.

The default file is ``.escalate/ledger.db`` (config ``ledger.path``). The schema
lives in :mod:`escalate.records.migrations` and is brought up to date on every open.
Every write is its own committed statement, so a crash leaves everything
written so far; WAL mode and a busy timeout let a CI job and a nightly batch
share one file.

Writers (the runner, the batch job) call ``record_*``; readers (the router's
learning step, ``escalate stats``) call :meth:`Ledger.tier_visits` and
:meth:`Ledger.class_outcomes`.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalate.errors import EscalateError
from escalate.records.migrations import apply_migrations, now

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.llm.client import CallRecord
    from escalate.records.types import AttemptRecord, Decision, Outcome
    from escalate.task import Task

BUSY_TIMEOUT_S = 30.0

_CALL_COLUMNS = (
    "tier",
    "role",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "thinking_tokens",
    "cost_usd",
    "request_id",
    "duration_s",
    "stop_reason",
    "batch",
    "cache_write_5m",
    "cache_write_1h",
)


def _prepare(db: sqlite3.Connection) -> None:
    """WAL mode and pending migrations, retried while another process sets up the same fresh file.

    SQLite answers some lock upgrades with "database is locked" at once instead of calling the busy
    handler (switching a new file to WAL; a reader that must write while another writes), so four
    processes opening one fresh ledger together failed about one time in six. Each step is
    idempotent (migrations check what is applied inside their own transaction)."""
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit (a run makes ~30), and
            # stays consistent after a crash; only the last commits can be lost on power loss.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            apply_migrations(db)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
            if db.in_transaction:
                db.execute("ROLLBACK")
            time.sleep(pause * (1 + random.random()))
            pause = min(pause * 2, 0.2)


REPRODUCE_STAGE = "reproduce"  # ladder.reproduce.STAGE: the test writer's attempts


class LedgerError(EscalateError):
    """The ledger file cannot be opened or read; the message names the file and the fix."""


@dataclass(frozen=True)
class TierVisit:
    """One task's stay on one tier: all attempts the run made there, summed."""

    run_id: str
    complexity: str | None
    error_cost: str | None
    tier: str
    model: str | None
    attempts: int
    cost_usd: float
    solved: bool  # an attempt on this tier passed validation
    circular: bool  # an attempt on this tier was a circular fix
    escalated: bool  # not solved here and the run went on to another tier
    first_attempt_id: int
    repo: str | None = None  # the run's repository
    started_here: bool = True  # the run's first tier (else a lower tier failed before it)
    last_stage: str | None = None  # the stage that decided this tier's last attempt


@dataclass(frozen=True)
class ClassOutcomes:
    """Finished runs of one task class: how many, how many fixed, what they cost in total."""

    complexity: str | None
    error_cost: str | None
    runs: int
    fixed: int
    cost_usd: float


def _money(value: Any) -> float:
    # Files store round(float, 6); Decimal is the in-memory money type (cost.py).
    return round(float(value or 0), 6)


def _plain(record: Any) -> dict:
    if isinstance(record, Mapping):
        return dict(record)
    if hasattr(record, "to_json"):
        return record.to_json()
    if is_dataclass(record) and not isinstance(record, type):
        return asdict(record)
    raise TypeError(f"expected a mapping or a dataclass, got {type(record).__name__}")


class Ledger:
    """An open ledger file. Use as a context manager, or call :meth:`close`."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        """Open (creating if needed) the ledger at `path` and apply pending migrations."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit, so each write is durable the moment it returns.
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(
                f"Cannot open the ledger at {path}: {exc}. Set ledger.path to a writable file."
            ) from exc
        db.row_factory = sqlite3.Row
        try:
            _prepare(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise LedgerError(
                f"{path} is not a usable escalate ledger ({exc}). "
                "Move it aside or set ledger.path to another file."
            ) from exc
        return cls(db, path)

    @classmethod
    def for_repo(cls, repo_root: str | Path, config: Config) -> Ledger | None:
        """The ledger configured for `repo_root` (``ledger.path`` is relative to it); None when disabled."""
        if not config.ledger.enabled:
            return None
        path = Path(config.ledger.path)
        return cls.open(path if path.is_absolute() else Path(repo_root) / path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrations(self) -> list[str]:
        """Names of the applied migrations, oldest first."""
        return [r["name"] for r in self.db.execute("SELECT name FROM _migrations ORDER BY rowid")]

    # ------------------------------------------------------------ writes

    def record_run_start(
        self,
        run_id: str | None = None,
        *,
        repo: str | Path | None = None,
        base_commit: str | None = None,
        source: str | None = None,
        started_at: str | None = None,
    ) -> str:
        """Write the run row; return its id (a fresh one when `run_id` is None)."""
        from escalate import __version__

        run_id = run_id or uuid.uuid4().hex[:12]
        self.db.execute(
            "INSERT INTO runs (id, started_at, repo, base_commit, source, escalate_version)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, started_at or now(), str(repo) if repo else None, base_commit, source, __version__),
        )
        return run_id

    def record_task(
        self,
        run_id: str,
        *,
        kind: str,
        slug: str | None = None,
        title: str | None = None,
        labels: Iterable[str] = (),
        complexity: str | None = None,
        error_cost: str | None = None,
    ) -> None:
        """Write the run's task and its class (from :func:`escalate.routing.rules.classify`)."""
        self.db.execute(
            "INSERT INTO tasks (run_id, kind, slug, title, labels, complexity, error_cost)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, kind, slug, title, json.dumps(list(labels)), complexity, error_cost),
        )

    def record_call(self, record: CallRecord | Mapping[str, Any]) -> int:
        """Write one API call: an ``llm.CallRecord`` or a dict of its fields; ``run`` is the run id."""
        data = _plain(record)
        run_id = data.get("run") or data.get("run_id")
        if not run_id:
            raise ValueError("a call record needs its run id in 'run'")
        values = {col: data.get(col) for col in _CALL_COLUMNS}
        values["batch"] = int(bool(values["batch"]))
        for col in (
            "input_tokens",
            "output_tokens",
            "cache_write_tokens",
            "cache_read_tokens",
            "thinking_tokens",
        ):
            values[col] = int(values[col] or 0)
        if values["model"] is None:
            raise ValueError("a call record needs its model id in 'model'")
        if values["cost_usd"] is None:  # never stored as a silent $0
            raise ValueError("a call record needs its cost in 'cost_usd'")
        values["cost_usd"] = _money(values["cost_usd"])
        cols = ", ".join(("run_id", *values, "created_at"))
        marks = ", ".join("?" * (len(values) + 2))
        cur = self.db.execute(
            f"INSERT INTO calls ({cols}) VALUES ({marks})", (run_id, *values.values(), now())
        )
        return cur.lastrowid

    def record_attempt(
        self,
        run_id: str,
        tier: str,
        model: str | None,
        n: int,
        verdict: str,
        stage: str | None = None,
        reason: str | None = None,
        cost_usd: Decimal | float = 0,
        circular: bool | None = None,
        model_verdict: bool | None = None,
    ) -> int:
        """Write one validated attempt (the fields of ``runner.AttemptRecord``).

        `circular` defaults to ``verdict == "circular"``; pass it explicitly when a
        circular fix is reported under another verdict. `model_verdict` defaults to
        ``verdict != "error"``: an infrastructure stop (API error, budget, interrupt) is
        kept apart, and learning does not count it as the tier failing.
        """
        circular = verdict == "circular" if circular is None else circular
        model_verdict = verdict != "error" if model_verdict is None else model_verdict
        cur = self.db.execute(
            "INSERT INTO attempts (run_id, tier, model, n, verdict, stage, reason, cost_usd, circular,"
            " model_verdict, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id, tier, model, n, verdict, stage, reason, _money(cost_usd), int(circular),
                int(model_verdict), now(),
            ),
        )  # fmt: skip
        return cur.lastrowid

    def record_decision(self, run_id: str, kind: str, choice: str, reason: str) -> int:
        """Write one routing decision (the fields of ``router.Decision``)."""
        cur = self.db.execute(
            "INSERT INTO decisions (run_id, kind, choice, reason, created_at) VALUES (?, ?, ?, ?, ?)",
            (run_id, kind, choice, reason, now()),
        )
        return cur.lastrowid

    def record_outcome(
        self, run_id: str, outcome: str, cost_usd: Decimal | float, final_tier: str | None = None
    ) -> None:
        """Write how the run ended (``Outcome.outcome``), its total cost and the last tier tried."""
        self.db.execute(
            "INSERT OR REPLACE INTO outcomes (run_id, outcome, cost_usd, final_tier, finished_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (run_id, outcome, _money(cost_usd), final_tier, now()),
        )

    # ------------------------------------------------------------ batches (nightly job)

    def record_batch_intent(self, batch_id: str, tasks: Iterable[tuple[str, Any, str]]) -> None:
        """Write a batch and its tasks as ``status="submitting"`` BEFORE the API call.

        `tasks` holds ``(custom_id, task, tier)``; `task` is a JSON string, a mapping or a dataclass.
        One transaction: the batch is recorded with all its tasks or not at all.
        """
        rows = [
            (cid, t if isinstance(t, str) else json.dumps(_plain(t), default=str), tier)
            for cid, t, tier in tasks
        ]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "INSERT INTO batches (id, submitted_at, status, request_count)"
                " VALUES (?, ?, 'submitting', ?)",
                (batch_id, now(), len(rows)),
            )
            self.db.executemany(
                "INSERT INTO batch_tasks (batch_id, custom_id, task_json, tier, state)"
                " VALUES (?, ?, ?, ?, 'pending')",
                [(batch_id, *row) for row in rows],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def update_batch(
        self, batch_id: str, *, status: str, api_batch_id: str | None = None, ended: bool = False
    ) -> None:
        """Move a batch to `status` (e.g. "submitted", "ended", "failed"), noting the API's batch id."""
        self.db.execute(
            "UPDATE batches SET status = ?, api_batch_id = COALESCE(?, api_batch_id),"
            " ended_at = CASE WHEN ? THEN ? ELSE ended_at END WHERE id = ?",
            (status, api_batch_id, int(ended), now(), batch_id),
        )

    def update_batch_task(
        self, batch_id: str, custom_id: str, *, state: str, run_id: str | None = None
    ) -> None:
        """Move one batch task to `state` (e.g. "fixed", "failed", "expired"), linking its run."""
        self.db.execute(
            "UPDATE batch_tasks SET state = ?, run_id = COALESCE(?, run_id)"
            " WHERE batch_id = ? AND custom_id = ?",
            (state, run_id, batch_id, custom_id),
        )

    def batches(self, status: str | None = None) -> list[dict]:
        """Batches (all, or those in `status`), newest first, each with its ``tasks``."""
        sql = (
            "SELECT * FROM batches"
            + (" WHERE status = ?" if status else "")
            + " ORDER BY submitted_at DESC, id"
        )
        out = []
        for row in self.db.execute(sql, (status,) if status else ()):
            batch = dict(row)
            batch["tasks"] = [
                dict(t) | {"task": json.loads(t["task_json"])}
                for t in self.db.execute(
                    "SELECT * FROM batch_tasks WHERE batch_id = ? ORDER BY rowid", (row["id"],)
                )
            ]
            out.append(batch)
        return out

    # ------------------------------------------------------------ queries

    def tier_visits(
        self,
        complexity: str | None = None,
        error_cost: str | None = None,
        *,
        models: Mapping[str, str] | None = None,
    ) -> list[TierVisit]:
        """Every (run, tier) pair with attempts, oldest run first, optionally for one task class.

        Only attempts with a model verdict count (not API errors, budget stops, interrupts).
        `models` maps tier name -> model id; when given, a tier's history only
        counts attempts made with that model (a new model starts a new history).
        """
        # The test writer's reproduce phase is another role's work: it is not the tier fixing the task.
        where, args = ["a.model_verdict = 1", f"a.stage != '{REPRODUCE_STAGE}'"], []
        if complexity is not None:
            where.append("t.complexity = ?")
            args.append(complexity)
        if error_cost is not None:
            where.append("t.error_cost = ?")
            args.append(error_cost)
        sql = (
            "SELECT a.run_id, t.complexity, t.error_cost, a.tier, MAX(a.model) AS model,"
            " COUNT(*) AS attempts, SUM(a.cost_usd) AS cost, MAX(a.verdict = 'pass') AS solved,"
            " MAX(a.circular) AS circular, MIN(a.id) AS first_id, r.repo AS repo,"
            " (SELECT a2.stage FROM attempts a2 WHERE a2.run_id = a.run_id AND a2.tier = a.tier"
            f"  AND a2.model_verdict = 1 AND a2.stage != '{REPRODUCE_STAGE}' ORDER BY a2.id DESC LIMIT 1)"
            " AS last_stage"
            " FROM attempts a JOIN tasks t ON t.run_id = a.run_id JOIN runs r ON r.id = a.run_id"
            " WHERE " + " AND ".join(where) + " GROUP BY a.run_id, a.tier ORDER BY a.run_id, first_id"
        )
        rows = self.db.execute(sql, args).fetchall()
        last_of_run: dict[str, int] = {}
        first_of_run: dict[str, int] = {}
        for r in rows:
            last_of_run[r["run_id"]] = max(last_of_run.get(r["run_id"], 0), r["first_id"])
            first_of_run[r["run_id"]] = min(first_of_run.get(r["run_id"], r["first_id"]), r["first_id"])
        visits = [
            TierVisit(
                run_id=r["run_id"],
                complexity=r["complexity"],
                error_cost=r["error_cost"],
                tier=r["tier"],
                model=r["model"],
                attempts=r["attempts"],
                cost_usd=round(r["cost"] or 0.0, 6),
                solved=bool(r["solved"]),
                circular=bool(r["circular"]),
                escalated=not r["solved"] and r["first_id"] < last_of_run[r["run_id"]],
                first_attempt_id=r["first_id"],
                repo=r["repo"],
                started_here=r["first_id"] == first_of_run[r["run_id"]],
                last_stage=r["last_stage"],
            )
            for r in rows
        ]
        if models is not None:
            visits = [v for v in visits if models.get(v.tier) in (None, v.model)]
        return sorted(visits, key=lambda v: v.first_attempt_id)

    def class_outcomes(self) -> list[ClassOutcomes]:
        """Finished runs per task class (unclassified tasks have None for both dimensions)."""
        sql = (
            "SELECT t.complexity, t.error_cost, COUNT(*) AS runs, SUM(o.outcome = 'fixed') AS fixed,"
            " SUM(o.cost_usd) AS cost FROM outcomes o JOIN tasks t ON t.run_id = o.run_id"
            " GROUP BY t.complexity, t.error_cost ORDER BY t.complexity, t.error_cost"
        )
        return [
            ClassOutcomes(
                r["complexity"], r["error_cost"], r["runs"], r["fixed"] or 0, round(r["cost"] or 0.0, 6)
            )
            for r in self.db.execute(sql)
        ]

    def decisions(self, run_id: str) -> list[dict]:
        """The run's routing decisions in the order they were made."""
        rows = self.db.execute(
            "SELECT kind, choice, reason FROM decisions WHERE run_id = ? ORDER BY id", (run_id,)
        )
        return [dict(r) for r in rows]

    def run_cost(self, run_id: str) -> float:
        """Sum of the run's recorded API calls, in USD."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE run_id = ?", (run_id,)
        ).fetchone()
        return round(row[0], 6)


class RunRecorder:
    """One run's rows in the ledger, fed through the same hooks as ``report.RunLog``.

    The runner creates it after routing and calls ``call``/``decision``/``attempt``
    next to the run log's, then ``finish`` with the ``Outcome``. Each hook writes
    one committed row, so an interrupted run still leaves its calls and attempts.
    """

    def __init__(self, ledger: Ledger, run_id: str) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.last_tier: str | None = None

    @classmethod
    def start(
        cls,
        ledger: Ledger,
        run_id: str,
        task: Task,
        *,
        complexity: str | None = None,
        error_cost: str | None = None,
        repo: str | Path | None = None,
        base_commit: str | None = None,
        source: str | None = None,
    ) -> RunRecorder:
        """Write the run and its task with its class (None before routing); ``source`` defaults
        to the task's."""
        ledger.record_run_start(run_id, repo=repo, base_commit=base_commit, source=source or task.source)
        ledger.record_task(
            run_id,
            kind=task.kind,
            slug=task.slug,
            title=task.title,
            labels=task.labels,
            complexity=complexity,
            error_cost=error_cost,
        )
        return cls(ledger, run_id)

    def call(self, record: CallRecord) -> None:
        data = _plain(record)
        data["run"] = self.run_id
        self.ledger.record_call(data)

    def decision(self, decision: Decision) -> None:
        self.ledger.record_decision(self.run_id, decision.kind, decision.choice, decision.reason)

    def attempt(self, a: AttemptRecord) -> None:
        self.last_tier = a.tier
        self.ledger.record_attempt(
            self.run_id, a.tier, a.model, a.n, a.verdict, a.stage, a.reason, a.cost_usd
        )

    def finish(self, outcome: Outcome) -> None:
        self.ledger.record_outcome(self.run_id, outcome.outcome, outcome.cost_usd, self.last_tier)
