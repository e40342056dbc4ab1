"""Finding nightly maintenance work: failing tests, unfixable ruff findings, pytest warnings, labelled issues.

The scan runs in a clean worktree of the base commit (the default branch in the nightly
job), never in the user's checkout. pytest runs once with a tiny probe plugin that records
failures and warnings as JSON lines: more robust than parsing the terminal summary, and it
works in whatever Python environment the project's own test command uses (the plugin is put
on ``PYTHONPATH``, not imported from escalate). ruff runs with ``--output-format json``; a
finding whose fix ``ruff check --fix`` would apply (applicability "safe") is not a task.
"""

from __future__ import annotations

import fnmatch
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.errors import EscalateError
from escalate.github.client import GithubRepo
from escalate.task import Task
from escalate.workspace.process import run_command, safe_env
from escalate.workspace.sandbox import isolation_for

if TYPE_CHECKING:
    from escalate.config import Config

PROBE_MODULE = "escalate_nightly_probe"
# Loaded by the project's pytest through `-p`; it must only use the standard library.
PROBE_SOURCE = """\
import json
import os

_OUT = os.environ["ESCALATE_PROBE_OUT"]


def _emit(record):
    with open(_OUT, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\\n")


def pytest_runtest_logreport(report):
    if report.failed:
        _emit({"type": "failed", "nodeid": report.nodeid, "when": report.when,
               "output": str(report.longrepr)[-6000:]})


def pytest_collectreport(report):
    if report.failed:
        _emit({"type": "failed", "nodeid": report.nodeid, "when": "collect",
               "output": str(report.longrepr)[-6000:]})


def pytest_warning_recorded(warning_message, when, nodeid, location):
    _emit({"type": "warning", "category": warning_message.category.__name__,
           "message": str(warning_message.message), "filename": str(warning_message.filename),
           "lineno": warning_message.lineno, "nodeid": nodeid, "when": when})
"""

# Failing tests per task whose output goes into the task text.
MAX_OUTPUTS = 5
# Warning categories worth a maintenance task; others (e.g. PytestUnraisableExceptionWarning) are noise.
WARNING_CATEGORIES = ("DeprecationWarning", "PendingDeprecationWarning", "FutureWarning", "SyntaxWarning")


class DiscoveryError(EscalateError):
    """The scan could not run the project's tools; the message says which command and how to fix it."""


@dataclass
class LintFinding:
    path: str  # repository-relative
    line: int
    code: str
    message: str
    fix: str | None  # None (no fix), "unsafe" or "display-only": `ruff check --fix` leaves it alone


@dataclass
class WarningFinding:
    path: str  # repository-relative source location of the warning
    line: int
    category: str
    message: str
    tests: list[str] = field(default_factory=list)  # node ids that triggered it


@dataclass
class Scan:
    """Everything one scan found at `base_commit`, and the tasks made of it (priority order)."""

    base_commit: str
    failing: dict[str, str] = field(default_factory=dict)  # node id -> failure output
    warnings: list[WarningFinding] = field(default_factory=list)
    lint: list[LintFinding] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    checks: dict[str, dict] = field(default_factory=dict)  # task slug -> what still_present() looks for


def in_scope(path: str, scopes: list[str]) -> bool:
    """Whether a repository-relative path is covered by `batch.paths` (dirs, files or globs)."""
    if not scopes:
        return True
    for scope in scopes:
        scope = scope.strip("/")
        if scope in ("", "."):
            return True
        if path == scope or path.startswith(scope + "/") or fnmatch.fnmatch(path, scope):
            return True
    return False


def rule_selected(code: str, rules: list[str]) -> bool:
    """Whether a ruff code matches `batch.ruff_rules` (prefixes, as ruff selectors: "E", "F8", "B006")."""
    return not rules or any(code.startswith(rule) for rule in rules)


# ------------------------------------------------------------------------ the tools


def _relative(filename: str, root: Path) -> str | None:
    path = Path(filename)
    if not path.is_absolute():
        path = root / path
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None  # third-party code (site-packages, the stdlib): not ours to fix


def _run(cmd: list[str], root: Path, config: Config, what: str, env: dict[str, str] | None = None, **paths):
    """cmd in the sandbox validation uses (validate.sandbox, validate.network and the limits): the
    scan runs the project's code (conftest, the tests, ``python -m ruff``) like validation does."""
    cfg = config.validate
    isolation = isolation_for(cfg)
    if isolation.sandboxed and env and "ESCALATE_PROBE_OUT" in env:
        isolation = replace(isolation, pass_env=(*isolation.pass_env, "ESCALATE_PROBE_OUT"))
    result = run_command(cmd, root, timeout_s=cfg.timeout_s, env=env, isolation=isolation, **paths)
    key = "ruff_command" if what == "ruff" else "test_command"
    if result.timed_out:
        raise DiscoveryError(f"{what} did not finish in time; raise validate.timeout_s.\n{result.describe()}")
    if result.returncode == 127:
        raise DiscoveryError(f"cannot run {what}; install it or set validate.{key}.\n{result.describe()}")
    return result


def lint_findings(root: Path, config: Config) -> list[LintFinding]:
    """ruff findings under `batch.paths` that `ruff check --fix` (safe fixes only) cannot fix."""
    targets = config.batch.paths or ["."]
    cmd = [
        *config.validate.ruff_command,
        "--output-format",
        "json",
        "--no-fix",
        "--no-unsafe-fixes",
        "--exit-zero",
        *targets,
    ]
    proc = _run(cmd, root, config, "ruff")
    try:
        rows = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        raise DiscoveryError(
            f"ruff did not print JSON; check validate.ruff_command.\n{proc.describe()}"
        ) from None
    findings = []
    for row in rows:
        code = row.get("code")
        fix = row.get("fix") or {}
        if not code or fix.get("applicability") == "safe" or not rule_selected(code, config.batch.ruff_rules):
            continue  # syntax errors (no code) surface as failing tests; safe fixes are `ruff --fix`'s job
        rel = _relative(row["filename"], root)
        if rel is None or not in_scope(rel, config.batch.paths):
            continue
        findings.append(
            LintFinding(rel, row["location"]["row"], code, row["message"], fix.get("applicability"))
        )
    return findings


def test_probe(root: Path, config: Config, node_ids: list[str] | None = None) -> list[dict]:
    """Run the project's tests once with the probe plugin; the records it wrote (failures, warnings)."""
    with tempfile.TemporaryDirectory(prefix="escalate-probe-") as tmp:
        # The plugin read-only and its records in a folder of their own: the tests cannot rewrite the probe.
        plugin, records = Path(tmp, "plugin"), Path(tmp, "records")
        plugin.mkdir()
        records.mkdir()
        Path(plugin, f"{PROBE_MODULE}.py").write_text(PROBE_SOURCE, encoding="utf-8")
        out = records / "records.jsonl"
        out.touch()
        env = safe_env()
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(plugin), env.get("PYTHONPATH", "")) if p)
        env["ESCALATE_PROBE_OUT"] = str(out)
        env.pop("PYTEST_ADDOPTS", None)
        cmd = [*config.validate.test_command, "-p", PROBE_MODULE, "-q", "-p", "no:cacheprovider"]
        cmd += node_ids or []
        proc = _run(cmd, root, config, "the test command", env, readable=[plugin], writable=[records])
        # pytest exit codes: 0 ok, 1 tests failed, 5 none collected; anything else is a broken run.
        if proc.returncode not in (0, 1, 5):
            raise DiscoveryError(
                f"the test command failed to run; check validate.test_command.\n{proc.describe()}"
            )
        lines = out.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def failing_tests(records: list[dict], scopes: list[str]) -> dict[str, str]:
    failing: dict[str, str] = {}
    for rec in records:
        if rec["type"] == "failed" and in_scope(rec["nodeid"].split("::")[0], scopes):
            failing.setdefault(rec["nodeid"], rec["output"])
    return failing


def warning_findings(records: list[dict], root: Path, scopes: list[str]) -> list[WarningFinding]:
    """Warnings of WARNING_CATEGORIES raised from the repository's own files, one per location."""
    by_location: dict[tuple, WarningFinding] = {}
    for rec in records:
        if rec["type"] != "warning" or rec["category"] not in WARNING_CATEGORIES:
            continue
        rel = _relative(rec["filename"], root)
        if rel is None or not in_scope(rel, scopes):
            continue
        key = (rel, rec["lineno"], rec["category"], rec["message"])
        found = by_location.setdefault(
            key, WarningFinding(rel, rec["lineno"], rec["category"], rec["message"])
        )
        if rec.get("nodeid") and rec["nodeid"] not in found.tests:
            found.tests.append(rec["nodeid"])
    return list(by_location.values())


# ------------------------------------------------------------------------ findings -> tasks


def _test_tasks(failing: dict[str, str]) -> list[Task]:
    by_file: dict[str, list[str]] = {}
    for nodeid in failing:
        by_file.setdefault(nodeid.split("::")[0], []).append(nodeid)
    tasks = []
    for path, ids in by_file.items():
        # Output of the first few only: one cause usually fails many tests, and the request has a size.
        output = "\n\n".join(f"{nid}\n{failing[nid][-3000:]}" for nid in ids[:MAX_OUTPUTS])
        if len(ids) > MAX_OUTPUTS:
            output += "\n\nAlso failing: " + ", ".join(ids[MAX_OUTPUTS:])
        tasks.append(Task.from_failing_file(path, ids, output))
    return tasks


def _warning_tasks(warnings: list[WarningFinding], checks: dict[str, dict]) -> list[Task]:
    tasks = []
    for w in warnings:
        task = Task.from_warning(w.path, w.line, w.category, w.message, w.tests)
        checks[task.slug] = {"kind": "warning", "path": w.path, "category": w.category, "message": w.message}
        tasks.append(task)
    return tasks


def _lint_tasks(findings: list[LintFinding], checks: dict[str, dict]) -> list[Task]:
    by_file: dict[str, list[LintFinding]] = {}
    for f in findings:
        by_file.setdefault(f.path, []).append(f)
    tasks = []
    for path, items in by_file.items():
        listing = "\n".join(
            f"{f.path}:{f.line}: {f.code} {f.message}" + (f" (ruff has only an {f.fix} fix)" if f.fix else "")
            for f in items
        )
        codes = sorted({f.code for f in items})
        task = Task.from_lint_report(path, codes, listing)
        checks[task.slug] = {"kind": "lint", "path": path, "codes": codes}
        tasks.append(task)
    return tasks


def scan(root: Path, config: Config, base_commit: str, *, issues: list[Task] | None = None) -> Scan:
    """Scan `root`, a clean worktree of `base_commit`; tasks come out in priority order:
    failing tests, issues, warnings, lint findings."""
    records = test_probe(root, config)
    result = Scan(base_commit=base_commit)
    result.failing = failing_tests(records, config.batch.paths)
    result.warnings = warning_findings(records, root, config.batch.paths)
    result.lint = lint_findings(root, config)
    result.tasks = [
        *_test_tasks(result.failing),
        *(issues or []),
        *_warning_tasks(result.warnings, result.checks),
        *_lint_tasks(result.lint, result.checks),
    ]
    return result


def still_present(check: dict | None, root: Path, config: Config, tests: list[str]) -> list[str]:
    """The findings a warning or lint task was made for that are still there in `root` (empty = gone).

    Validation proves nothing broke; this proves the finding itself is fixed. `check` is the
    entry Scan.checks holds for the task (None for test and issue tasks: nothing to look for).
    """
    if not check:
        return []
    if check["kind"] == "lint":
        left = [
            f for f in lint_findings(root, config) if f.path == check["path"] and f.code in check["codes"]
        ]
        return [f"{f.path}:{f.line}: {f.code} {f.message}" for f in left]
    records = test_probe(root, config, tests or None)
    left = [
        w
        for w in warning_findings(records, root, [])
        if (w.path, w.category, w.message) == (check["path"], check["category"], check["message"])
    ]
    return [f"{w.path}:{w.line}: {w.category}: {w.message}" for w in left]


# ------------------------------------------------------------------------ GitHub issues


def github_configured(env: Mapping[str, str] | None = None) -> bool:
    """GitHub counts as configured when a runner's GITHUB_REPOSITORY and a token are both set."""
    env = os.environ if env is None else env
    return bool(env.get("GITHUB_REPOSITORY") and (env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")))


def github_issues(config: Config) -> list[Task]:
    """Open issues carrying ``batch.issue_label``, when GitHub is configured; else none."""
    if not github_configured():
        return []
    repo = GithubRepo.from_env()
    return [
        Task.from_issue(i)
        for i in repo.labelled_issues(config.batch.issue_label, config.github.trusted_associations)
    ]
