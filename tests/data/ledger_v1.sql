-- An escalate ledger as written by the first release (schema of m001 only), with a few rows.
-- tests/test_ledger.py loads it with sqlite3 executescript and opens it with Ledger.open.
PRAGMA journal_mode = DELETE;
CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO _migrations VALUES ('m001_runs_tasks_attempts_calls', '2026-03-02T09:00:00+00:00');
CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            repo TEXT,
            base_commit TEXT,
            source TEXT,
            escalate_version TEXT
        );
CREATE TABLE tasks (
            run_id TEXT PRIMARY KEY REFERENCES runs(id),
            kind TEXT NOT NULL,
            slug TEXT,
            title TEXT,
            labels TEXT NOT NULL DEFAULT '[]',
            complexity TEXT,
            error_cost TEXT
        );
CREATE TABLE attempts (
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
        );
CREATE TABLE calls (
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
        );

-- run r1: haiku fails twice (the second a circular fix), sonnet fixes it
INSERT INTO runs VALUES ('r1', '2026-03-02T09:10:00+00:00', '/srv/app', '4f1c2e9', 'cli', '0.0.9');
INSERT INTO tasks VALUES ('r1', 'test', 'test-calc-sum', 'tests/test_calc.py::test_sum fails', '[]', 'generative', 'low');
INSERT INTO calls VALUES (1, 'r1', 'haiku', 'ladder', 'claude-haiku-4-5', 2210, 310, 1800, 0, 0, 0.00600, 'req_011CVa1', 2.1, 'tool_use', '2026-03-02T09:10:03+00:00');
INSERT INTO calls VALUES (2, 'r1', 'haiku', 'ladder', 'claude-haiku-4-5', 420, 180, 0, 1800, 0, 0.00150, 'req_011CVa2', 1.4, 'end_turn', '2026-03-02T09:10:06+00:00');
INSERT INTO calls VALUES (3, 'r1', 'sonnet', 'ladder', 'claude-sonnet-4-6', 2600, 520, 2100, 0, 0, 0.02340, 'req_011CVa3', 5.2, 'tool_use', '2026-03-02T09:10:15+00:00');
INSERT INTO attempts VALUES (1, 'r1', 'haiku', 'claude-haiku-4-5', 1, 'fail', 'target', '1 target test still fails', 0.00600, '2026-03-02T09:10:04+00:00');
INSERT INTO attempts VALUES (2, 'r1', 'haiku', 'claude-haiku-4-5', 2, 'circular', 'target', 'tree equals attempt 1', 0.00150, '2026-03-02T09:10:07+00:00');
INSERT INTO attempts VALUES (3, 'r1', 'sonnet', 'claude-sonnet-4-6', 1, 'pass', 'ok', 'all stages passed', 0.02340, '2026-03-02T09:10:20+00:00');

-- run r2: a lint finding haiku fixes at once
INSERT INTO runs VALUES ('r2', '2026-03-03T02:00:00+00:00', '/srv/app', '4f1c2e9', 'nightly', '0.0.9');
INSERT INTO tasks VALUES ('r2', 'lint', 'lint-e501-models', 'E501 line too long in app/models.py', '["lint"]', 'mechanical', 'low');
INSERT INTO calls VALUES (4, 'r2', 'haiku', 'ladder', 'claude-haiku-4-5', 1500, 90, 0, 0, 0, 0.00195, 'req_011CVb1', 0.9, 'tool_use', '2026-03-03T02:00:02+00:00');
INSERT INTO attempts VALUES (4, 'r2', 'haiku', 'claude-haiku-4-5', 1, 'pass', 'ok', 'all stages passed', 0.00195, '2026-03-03T02:00:05+00:00');
