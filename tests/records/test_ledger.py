"""The ledger: final schema, migrating an old file, durable writes, the query helpers."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from escalate.llm.client import CallRecord
from escalate.records.ledger import Ledger, LedgerError, RunRecorder
from escalate.records.migrations import MIGRATIONS
from escalate.records.types import AttemptRecord, Decision, Outcome
from escalate.routing.rules import Classification
from escalate.task import Task

DATA = Path(__file__).parents[1] / "data"

FINAL_SCHEMA = {
    "_migrations": ["name", "applied_at"],
    "runs": ["id", "started_at", "repo", "base_commit", "source", "escalate_version"],
    "tasks": ["run_id", "kind", "slug", "title", "labels", "complexity", "error_cost"],
    "attempts": [
        "id", "run_id", "tier", "model", "n", "verdict", "stage", "reason", "cost_usd", "created_at",
        "circular", "model_verdict",
    ],
    "calls": [
        "id", "run_id", "tier", "role", "model", "input_tokens", "output_tokens", "cache_write_tokens",
        "cache_read_tokens", "thinking_tokens", "cost_usd", "request_id", "duration_s", "stop_reason",
        "created_at", "batch", "cache_write_5m", "cache_write_1h",
    ],
    "decisions": ["id", "run_id", "kind", "choice", "reason", "created_at"],
    "outcomes": ["run_id", "outcome", "cost_usd", "final_tier", "finished_at"],
    "batches": ["id", "api_batch_id", "submitted_at", "status", "request_count", "ended_at", "note"],
    "batch_tasks": [
        "batch_id", "custom_id", "task_json", "tier", "state", "run_id",
        "result_type", "cost_usd", "interactive_cost_usd", "detail", "updated_at",
    ],
    "batch_queue": [
        "slug", "kind", "title", "state", "tier", "reason", "model", "input_tokens", "max_tokens", "detail",
        "updated_at",
    ],
    "base_results": ["repo", "base_commit", "nodeid", "outcome", "recorded_at"],
}  # fmt: skip


def schema(path: Path) -> dict[str, list[str]]:
    db = sqlite3.connect(path)
    tables = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    out = {t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    db.close()
    return out


def call(run: str, tier: str, model: str, cost: str, **extra) -> dict:
    """A call record shaped like llm.CallRecord.to_json()."""
    return {
        "run": run, "tier": tier, "role": "ladder", "model": model,
        "input_tokens": 2400, "output_tokens": 350,
        "cache_write_tokens": 1900, "cache_read_tokens": 0, "thinking_tokens": 120, "cost_usd": Decimal(cost),
        "request_id": "req_011CVx", "duration_s": 2.5, "stop_reason": "tool_use", "batch": False, **extra,
    }  # fmt: skip


def test_final_schema_after_all_migrations(tmp_path):
    path = tmp_path / "nested" / "ledger.db"
    with Ledger.open(path) as ledger:
        assert ledger.migrations() == [name for name, _ in MIGRATIONS]
        assert ledger.migrations()[:2] == ["m001_runs_tasks_attempts_calls", "m002_decisions"]
        mode = ledger.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert schema(path) == FINAL_SCHEMA


def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    with Ledger.open(path) as ledger:
        rows = ledger.db.execute("SELECT name, COUNT(*) FROM _migrations GROUP BY name").fetchall()
    assert all(count == 1 for _, count in rows)
    assert len(rows) == len(MIGRATIONS)


def test_old_ledger_is_migrated_without_losing_rows(tmp_path):
    path = tmp_path / "ledger.db"
    db = sqlite3.connect(path)
    db.executescript((DATA / "ledger_v1.sql").read_text())
    db.close()
    assert "decisions" not in schema(path)

    with Ledger.open(path) as ledger:
        assert ledger.migrations()[0] == "m001_runs_tasks_attempts_calls"
        assert len(ledger.migrations()) == len(MIGRATIONS)
        runs = [
            dict(r) for r in ledger.db.execute("SELECT id, source, escalate_version FROM runs ORDER BY id")
        ]
        assert runs == [
            {"id": "r1", "source": "cli", "escalate_version": "0.0.9"},
            {"id": "r2", "source": "nightly", "escalate_version": "0.0.9"},
        ]
        assert ledger.run_cost("r1") == pytest.approx(0.0309)
        # m004 backfills the circular flag from the old verdicts; m005 defaults old calls to non-batch.
        flags = ledger.db.execute("SELECT id, circular FROM attempts ORDER BY id").fetchall()
        assert [tuple(r) for r in flags] == [(1, 0), (2, 1), (3, 0), (4, 0)]
        assert {r[0] for r in ledger.db.execute("SELECT batch FROM calls")} == {0}

        visits = ledger.tier_visits("generative", "low")
        assert [(v.tier, v.attempts, v.solved, v.circular, v.escalated) for v in visits] == [
            ("haiku", 2, False, True, True),
            ("sonnet", 1, True, False, False),
        ]
        assert visits[0].cost_usd == pytest.approx(0.0075)

        # The migrated file takes new-style rows next to the old ones.
        ledger.record_decision("r1", "start_tier", "haiku", "generative/low -> haiku with extended thinking")
        ledger.record_call(call("r2", "haiku", "claude-haiku-4-5", "0.0012", batch=True))
        assert ledger.decisions("r1")[0]["choice"] == "haiku"
        assert ledger.db.execute("SELECT COUNT(*) FROM calls WHERE batch = 1").fetchone()[0] == 1
    assert schema(path) == FINAL_SCHEMA


def test_infrastructure_errors_are_kept_apart_from_model_verdicts(tmp_path):
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        run = ledger.record_run_start("r1", repo="acme/shop")
        ledger.record_task(run, kind="issue", complexity="generative", error_cost="low")
        ledger.record_attempt(run, "haiku", "claude-haiku-4-5", 1, "fail", "target", "assert 1 == 2", 0.01)
        ledger.record_attempt(run, "sonnet", "claude-sonnet-4-6", 1, "error", "api", "overloaded", 0.02)
        run2 = ledger.record_run_start("r2", repo="acme/shop")
        ledger.record_task(run2, kind="issue", complexity="generative", error_cost="low")
        ledger.record_attempt(run2, "sonnet", "claude-sonnet-4-6", 1, "pass", "ok", "", 0.05)
        kept = ledger.db.execute("SELECT verdict, model_verdict FROM attempts ORDER BY id").fetchall()
        assert [tuple(r) for r in kept] == [("fail", 1), ("error", 0), ("pass", 1)]  # recorded, apart
        visits = ledger.tier_visits("generative", "low")
    # The API error on sonnet is no sonnet failure: only haiku's failure and r2's start count.
    assert [(v.run_id, v.tier, v.solved, v.started_here, v.repo, v.last_stage) for v in visits] == [
        ("r1", "haiku", False, True, "acme/shop", "target"),
        ("r2", "sonnet", True, True, "acme/shop", "ok"),
    ]


def test_every_write_is_visible_to_another_connection_at_once(tmp_path):
    path = tmp_path / "ledger.db"
    ledger = Ledger.open(path)
    run = ledger.record_run_start(repo=tmp_path, base_commit="abc123", source="github#12")
    title = "Deadlock in worker pool"
    ledger.record_task(
        run,
        kind="issue",
        slug="issue-12",
        title=title,
        labels=["concurrency"],
        complexity="reasoning",
        error_cost="low",
    )
    ledger.record_call(call(run, "sonnet", "claude-sonnet-4-6", "0.031"))
    ledger.record_attempt(
        run, "sonnet", "claude-sonnet-4-6", 1, "fail", "suite", "2 new failures", Decimal("0.031")
    )
    # No close(), no commit(): a crash here must still leave the rows (autocommit).
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT labels, complexity FROM tasks").fetchone() == (
        '["concurrency"]',
        "reasoning",
    )
    assert reader.execute("SELECT cost_usd, thinking_tokens FROM calls").fetchone() == (0.031, 120)
    assert reader.execute("SELECT verdict, circular FROM attempts").fetchone() == ("fail", 0)
    reader.close()
    ledger.close()


def test_two_writers_share_one_file(tmp_path):
    path = tmp_path / "ledger.db"
    with Ledger.open(path) as a, Ledger.open(path) as b:
        ra = a.record_run_start("ci-1")
        rb = b.record_run_start("nightly-1")
        for i in range(20):
            a.record_attempt(ra, "haiku", "claude-haiku-4-5", i + 1, "fail", cost_usd=0.01)
            b.record_attempt(rb, "haiku", "claude-haiku-4-5", i + 1, "fail", cost_usd=0.01)
        assert a.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 40


def test_outcome_and_class_totals(tmp_path):
    with Ledger.open(tmp_path / "l.db") as ledger:
        for i, (outcome, cost) in enumerate([("fixed", "0.02"), ("fixed", "0.05"), ("needs_human", "0.61")]):
            run = ledger.record_run_start(f"run{i}")
            ledger.record_task(run, kind="test", slug=f"t{i}", complexity="generative", error_cost="low")
            ledger.record_outcome(
                run, outcome, Decimal(cost), final_tier="opus" if outcome != "fixed" else "haiku"
            )
        run = ledger.record_run_start("unclassified")
        ledger.record_task(run, kind="lint", slug="lint")
        ledger.record_outcome(run, "fixed", 0.001, "haiku")
        totals = {
            (c.complexity, c.error_cost): (c.runs, c.fixed, c.cost_usd) for c in ledger.class_outcomes()
        }
    assert totals == {("generative", "low"): (3, 2, pytest.approx(0.68)), (None, None): (1, 1, 0.001)}


def test_model_filter_starts_a_new_history_for_a_new_model(tmp_path):
    with Ledger.open(tmp_path / "l.db") as ledger:
        for run, model in (("old", "claude-haiku-4-5"), ("new", "claude-haiku-5")):
            ledger.record_run_start(run)
            ledger.record_task(run, kind="test", complexity="mechanical", error_cost="low")
            ledger.record_attempt(run, "haiku", model, 1, "pass", "ok", cost_usd=0.002)
        assert len(ledger.tier_visits("mechanical", "low")) == 2
        kept = ledger.tier_visits("mechanical", "low", models={"haiku": "claude-haiku-5"})
        assert [v.run_id for v in kept] == ["new"]


def test_batch_intent_is_written_before_submission(tmp_path):
    with Ledger.open(tmp_path / "l.db") as ledger:
        tasks = [
            ("lint-1", {"kind": "lint", "title": "E501 in app.py"}, "haiku"),
            ("issue-7", '{"kind": "issue"}', "haiku"),
        ]
        ledger.record_batch_intent("b-2026-03-04", tasks)
        [batch] = ledger.batches(status="submitting")
        assert batch["request_count"] == 2
        assert [(t["custom_id"], t["state"], t["task"]["kind"]) for t in batch["tasks"]] == [
            ("lint-1", "pending", "lint"),
            ("issue-7", "pending", "issue"),
        ]
        ledger.update_batch("b-2026-03-04", status="submitted", api_batch_id="msgbatch_01")
        ledger.update_batch_task("b-2026-03-04", "lint-1", state="fixed", run_id="r9")
        [batch] = ledger.batches()
        assert (batch["status"], batch["api_batch_id"], batch["ended_at"]) == (
            "submitted",
            "msgbatch_01",
            None,
        )
        assert batch["tasks"][0]["state"] == "fixed" and batch["tasks"][0]["run_id"] == "r9"
        # A duplicate intent is refused as a whole: no half-written batch.
        with pytest.raises(sqlite3.IntegrityError):
            ledger.record_batch_intent("b-2026-03-04", tasks)
        assert len(ledger.batches()[0]["tasks"]) == 2


def test_a_file_that_is_not_a_ledger_is_a_user_error(tmp_path):
    path = tmp_path / "ledger.db"
    path.write_text("not sqlite at all " * 100)
    with pytest.raises(LedgerError, match="ledger.path"):
        Ledger.open(path)


def test_call_record_needs_run_and_model(tmp_path):
    with Ledger.open(tmp_path / "l.db") as ledger:
        with pytest.raises(ValueError, match="run"):
            ledger.record_call({"model": "claude-haiku-4-5"})
        run = ledger.record_run_start()
        with pytest.raises(ValueError, match="model"):
            ledger.record_call({"run": run})
        assert json.loads(json.dumps(ledger.decisions(run))) == []


def test_call_record_without_a_cost_is_refused_not_stored_as_zero(tmp_path):
    with Ledger.open(tmp_path / "l.db") as ledger:
        run = ledger.record_run_start()
        record = call(run, "haiku", "claude-haiku-4-5", "0.001")
        del record["cost_usd"]
        with pytest.raises(ValueError, match="cost_usd"):
            ledger.record_call(record)
        assert ledger.db.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 0


def test_run_recorder_mirrors_the_run_log_hooks(tmp_path):
    task = Task.from_tests(["tests/test_ops.py::test_add"], source="github#7")
    klass = Classification("generative", "low", ["a failing test with no mechanical or reasoning signal"])
    tokens = {"input_tokens": 1800, "output_tokens": 240, "cache_write_tokens": 0, "cache_read_tokens": 1500}
    with Ledger.open(tmp_path / "l.db") as ledger:
        rec = RunRecorder.start(ledger, "run-7", task, complexity=klass.complexity,
                                error_cost=klass.error_cost, repo=tmp_path, base_commit="c0ffee")  # fmt: skip
        rec.decision(Decision("start_tier", "haiku (claude-haiku-4-5)", "generative/low -> haiku"))
        for tier, model, verdict, cost in (
            ("haiku", "claude-haiku-4-5", "fail", "0.004"),
            ("sonnet", "claude-sonnet-4-6", "pass", "0.021"),
        ):
            call = CallRecord(
                run="ignored", tier=tier, role="ladder", model=model, **tokens, thinking_tokens=0,
                cost_usd=Decimal(cost), request_id="req_1", duration_s=1.5, stop_reason="end_turn",
            )  # fmt: skip
            rec.call(call)
            rec.attempt(
                AttemptRecord(tier, model, 1, verdict, "target", "", Decimal(cost), output="E assert")
            )
        rec.finish(Outcome("fixed", cost_usd=Decimal("0.025")))

        row = ledger.db.execute("SELECT source, base_commit FROM runs WHERE id = 'run-7'").fetchone()
        assert tuple(row) == ("github#7", "c0ffee")
        task_row = ledger.db.execute("SELECT kind, slug, complexity, error_cost FROM tasks").fetchone()
        assert tuple(task_row) == ("test", "fix-test-add", "generative", "low")
        assert ledger.run_cost("run-7") == pytest.approx(0.025)
        outcome = ledger.db.execute("SELECT outcome, cost_usd, final_tier FROM outcomes").fetchone()
        assert tuple(outcome) == ("fixed", 0.025, "sonnet")
        assert [v.tier for v in ledger.tier_visits("generative", "low")] == ["haiku", "sonnet"]
        assert ledger.decisions("run-7")[0]["reason"] == "generative/low -> haiku"


def _open_and_write(path: str, name: str) -> list[str]:
    with Ledger.open(path) as ledger:
        ledger.record_run_start(name)
        return ledger.migrations()


def test_processes_opening_a_fresh_ledger_at_once_migrate_it_once(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    # Several fresh files: one race in about six lost "database is locked" before Ledger.open retried.
    names = [name for name, _ in MIGRATIONS]
    with ProcessPoolExecutor(max_workers=4) as pool:
        for round_ in range(6):
            path = str(tmp_path / f"ledger{round_}.db")
            results = list(pool.map(_open_and_write, [path] * 4, [f"p{i}" for i in range(4)]))
            assert all(r == names for r in results)
            db = sqlite3.connect(path)
            assert db.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == len(names)
            assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 4
            db.close()


def test_commits_are_not_synced_one_by_one(tmp_path):
    # WAL with synchronous=NORMAL: a run's ~30 commits cost no fsync each; the file stays consistent.
    ledger = Ledger.open(tmp_path / "ledger.db")
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    ledger.close()


def test_the_test_writers_attempts_are_not_tier_visits(tmp_path):
    """An issue reproduced first: the test writer passed on sonnet, the implementer started on haiku and
    failed on sonnet. The router learns from the implementer's visits only."""
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        run = ledger.record_run_start("r1", repo="acme/shop")
        ledger.record_task(run, kind="issue", complexity="generative", error_cost="low")
        ledger.record_attempt(run, "sonnet", "claude-sonnet-4-6", 1, "pass", "reproduce", "1 new test", 0.02)
        ledger.record_attempt(run, "haiku", "claude-haiku-4-5", 1, "fail", "target", "assert 5 == 6", 0.01)
        ledger.record_attempt(run, "sonnet", "claude-sonnet-4-6", 1, "fail", "target", "assert 5 == 6", 0.03)
        visits = ledger.tier_visits("generative", "low")
    assert [(v.tier, v.attempts, v.solved, v.started_here, v.last_stage) for v in visits] == [
        ("haiku", 1, False, True, "target"),
        ("sonnet", 1, False, False, "target"),
    ]
    assert visits[1].cost_usd == pytest.approx(0.03)
