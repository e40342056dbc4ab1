"""The ledger's schema as named, append-only migrations (in the style of simonw/llm).

Each migration runs once per ledger file, in order, inside its own write
transaction, and is recorded in ``_migrations(name, applied_at)``. Never edit
or reorder a migration that has shipped: old ledger files on users' disks were
built by it. Change the schema by appending a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration; its function name is its recorded name."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_runs_tasks_attempts_calls(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            repo TEXT,
            base_commit TEXT,
            source TEXT,
            escalate_version TEXT
        )"""
    )
    # One task per run; the class is stored so learning and stats group by it without re-classifying.
    db.execute(
        """CREATE TABLE tasks (
            run_id TEXT PRIMARY KEY REFERENCES runs(id),
            kind TEXT NOT NULL,
            slug TEXT,
            title TEXT,
            labels TEXT NOT NULL DEFAULT '[]',
            complexity TEXT,
            error_cost TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            tier TEXT NOT NULL,
            model TEXT,
            n INTEGER NOT NULL,
            verdict TEXT NOT NULL,
            stage TEXT,
            reason TEXT,
            cost_usd REAL NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            tier TEXT,
            role TEXT,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            thinking_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            request_id TEXT,
            duration_s REAL,
            stop_reason TEXT,
            created_at TEXT NOT NULL
        )"""
    )


@migration
def m002_decisions(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            kind TEXT NOT NULL,
            choice TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )


@migration
def m003_outcomes(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE outcomes (
            run_id TEXT PRIMARY KEY REFERENCES runs(id),
            outcome TEXT NOT NULL,
            cost_usd REAL NOT NULL DEFAULT 0,
            final_tier TEXT,
            finished_at TEXT NOT NULL
        )"""
    )


@migration
def m004_attempt_circular(db: sqlite3.Connection) -> None:
    # A circular fix is also counted when a later verdict is "fail"; older rows only knew the verdict.
    db.execute("ALTER TABLE attempts ADD COLUMN circular INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE attempts SET circular = 1 WHERE verdict = 'circular'")


@migration
def m005_call_batch_and_cache_ttl(db: sqlite3.Connection) -> None:
    # Batch calls cost half; the 5m/1h split of cache writes is needed to re-price a call later.
    db.execute("ALTER TABLE calls ADD COLUMN batch INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE calls ADD COLUMN cache_write_5m INTEGER")
    db.execute("ALTER TABLE calls ADD COLUMN cache_write_1h INTEGER")


@migration
def m006_batches(db: sqlite3.Connection) -> None:
    # The intent row is written BEFORE the Message Batches API call, so a crash between
    # submit and the API answer leaves a row to reconcile instead of an orphaned paid batch.
    db.execute(
        """CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            api_batch_id TEXT,
            submitted_at TEXT NOT NULL,
            status TEXT NOT NULL,
            request_count INTEGER NOT NULL,
            ended_at TEXT,
            note TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE batch_tasks (
            batch_id TEXT NOT NULL REFERENCES batches(id),
            custom_id TEXT NOT NULL,
            task_json TEXT NOT NULL,
            tier TEXT NOT NULL,
            state TEXT NOT NULL,
            run_id TEXT,
            PRIMARY KEY (batch_id, custom_id)
        )"""
    )


@migration
def m007_indexes(db: sqlite3.Connection) -> None:
    db.execute("CREATE INDEX attempts_run ON attempts(run_id)")
    db.execute("CREATE INDEX calls_run ON calls(run_id)")
    db.execute("CREATE INDEX decisions_run ON decisions(run_id)")
    db.execute("CREATE INDEX tasks_class ON tasks(complexity, error_cost)")


@migration
def m008_batch_queue_and_results(db: sqlite3.Connection) -> None:
    # The nightly job's memory between runs: which task goes to which tier in the next batch,
    # and which were fixed or handed to a human (kept out of new batches for batch.hold_days).
    db.execute(
        """CREATE TABLE batch_queue (
            slug TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            title TEXT,
            state TEXT NOT NULL,
            tier TEXT,
            reason TEXT,
            model TEXT,
            input_tokens INTEGER,
            max_tokens INTEGER,
            detail TEXT,
            updated_at TEXT NOT NULL
        )"""
    )
    # What became of each request: the result type, its cost at batch prices next to the
    # same usage at interactive prices, and the branch / pull request or the reason it failed.
    db.execute("ALTER TABLE batch_tasks ADD COLUMN result_type TEXT")
    db.execute("ALTER TABLE batch_tasks ADD COLUMN cost_usd REAL")
    db.execute("ALTER TABLE batch_tasks ADD COLUMN interactive_cost_usd REAL")
    db.execute("ALTER TABLE batch_tasks ADD COLUMN detail TEXT")
    db.execute("ALTER TABLE batch_tasks ADD COLUMN updated_at TEXT")


@migration
def m010_base_results(db: sqlite3.Connection) -> None:
    # Test outcomes measured on a base commit (targets at base, failures re-run on the base): a
    # later run at the same commit need not measure them again (records/base_outcomes.py).
    db.execute(
        """CREATE TABLE base_results (
            repo TEXT NOT NULL,
            base_commit TEXT NOT NULL,
            nodeid TEXT NOT NULL,
            outcome TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (repo, base_commit, nodeid)
        )"""
    )


@migration
def m011_attempt_model_verdict(db: sqlite3.Connection) -> None:
    # Learning counts only attempts a model was judged on: an API error, a budget stop or an
    # interrupt says nothing about the tier (issue 14). Older rows knew this only as verdict "error".
    db.execute("ALTER TABLE attempts ADD COLUMN model_verdict INTEGER NOT NULL DEFAULT 1")
    db.execute("UPDATE attempts SET model_verdict = 0 WHERE verdict = 'error'")


def now() -> str:
    """UTC timestamp as stored in every *_at column."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def apply_migrations(db: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now.

    `db` must be in autocommit mode (isolation_level=None). Each migration takes
    the write lock first and re-checks, so two processes opening a fresh ledger
    at once apply each migration exactly once.
    """
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied: list[str] = []
    for name, fn in MIGRATIONS:
        if _is_applied(db, name):
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if _is_applied(db, name):
                db.execute("ROLLBACK")
                continue
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, now()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def _is_applied(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone() is not None
