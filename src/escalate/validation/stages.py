"""Baseline and staged validation: is this patch an improvement by the repository's own standards?

The untouched base is measured once (``run_baseline``): which tests fail, which ruff
findings exist. An attempt is then checked in stages, cheapest first, stopping at the
first failure (``validate``): ``syntax`` (compile the changed files), ``lint`` (ruff on
the changed files; only findings new against the baseline count), ``target`` (the
target tests alone must pass), ``suite`` (the full suite; only failures new against
the baseline count). Pre-existing problems never fail an attempt.

Tests run through ``escalate.workspace.process.run_command``: no secrets in the environment, a
timeout that kills the whole process group, an address-space limit.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.errors import EscalateError
from escalate.validation.junit import CaseResult, parse_junit, selects
from escalate.workspace.process import CommandResult, run_command, safe_env

if TYPE_CHECKING:
    from escalate.config import ValidateConfig

__all__ = ["Baseline", "Verdict", "run_baseline", "validate", "safe_env", "truncate_feedback", "signature_of"]

STAGES = ("syntax", "lint", "target", "suite")
# Lines of failure output most worth keeping when feedback must be cut.
_KEY_LINE = re.compile(r"^(E\s|>\s|\S+\.py:\d+:|FAILED |ERROR )|Error\b|assert", re.MULTILINE)
_NOT_FOUND = re.compile(r"^ERROR: (?:file or directory )?not found: (\S+)", re.MULTILINE)

LintKey = tuple[str, str, str]  # (path, code, message): no line numbers, so moved code is not "new"


@dataclass
class Baseline:
    """The base commit measured once: failing tests, lint findings (a multiset), target failures."""

    failing_tests: set[str]
    lint_findings: Counter[LintKey]
    target_failures: dict[str, str]  # node id -> failure text, for each target test failing at base
    outcomes: dict[str, str] = field(default_factory=dict)  # node id -> outcome in the base suite run
    duration_s: float = 0.0

    def reproduces(self, target_tests: list[str]) -> bool:
        """True when at least one target test fails at base (always True without targets)."""
        if not target_tests:
            return True
        return any(selects(_norm(t), nodeid) for t in target_tests for nodeid in self.target_failures)


@dataclass
class Verdict:
    """The outcome of validating one attempt; ``stage`` is the first failing stage, or "ok"."""

    passed: bool
    stage: str
    reason: str  # one line, for people
    feedback: str  # the failing stage's output, truncated for the model
    signature: str  # stable across patches that produce the same failure
    duration_s: float = 0.0
    failing_tests: list[str] = field(default_factory=list)
    junit: str | None = None  # JUnit XML of the last pytest run, for the attempt report


class ValidationError(EscalateError):
    """The base commit cannot be measured (test or lint command broken, a target test missing)."""


# -- helpers -------------------------------------------------------------------------------


def _norm(nodeid: str) -> str:
    nodeid = nodeid.strip().replace("\\", "/")
    return nodeid[2:] if nodeid.startswith("./") else nodeid


def truncate_feedback(text: str, limit: int) -> str:
    """text cut to about limit characters: head and tail kept, assertion lines from the middle kept."""
    if len(text) <= limit:
        return text
    lines = text.splitlines()
    budget = max(limit - 120, 100)  # room for the note saying what was cut
    head, size = [], 0
    while lines and size + len(lines[0]) + 1 <= budget * 0.4:
        size += len(lines[0]) + 1
        head.append(lines.pop(0))
    tail, tsize = [], 0
    while lines and tsize + len(lines[-1]) + 1 <= budget * 0.4:
        tsize += len(lines[-1]) + 1
        tail.insert(0, lines.pop())
    room = budget - size - tsize
    kept = []
    for line in lines:
        if _KEY_LINE.search(line) and len(line) + 1 <= room:
            kept.append(line)
            room -= len(line) + 1
    if not head and not tail and not kept:  # one enormous line
        return (
            text[: budget // 2] + f"\n[... {len(text) - budget} characters cut ...]\n" + text[-budget // 2 :]
        )
    cut = len(text) - sum(len(line) + 1 for line in head + tail + kept)
    note = f"[... {cut} characters cut; the assertion and error lines from the middle are kept ...]"
    return "\n".join([*head, note, *kept, *(["[...]"] if kept else []), *tail])


def _normalise(line: str, root: Path) -> str:
    for prefix in {str(root), str(root.resolve())}:
        line = line.replace(prefix + os.sep, "").replace(prefix, "<root>")
    line = re.sub(r"/tmp\S*/", "<tmp>/", line)
    line = re.sub(r"0x[0-9a-fA-F]+", "0x?", line)
    line = re.sub(r"\.py:\d+", ".py:?", line)
    line = re.sub(r"\bline \d+", "line ?", line)
    return " ".join(line.split())


def signature_of(stage: str, ids: list[str], first_line: str, root: Path) -> str:
    """A stable failure identity: stage, sorted failing ids, first error line without volatile details."""
    return f"{stage}|{','.join(sorted(ids))}|{_normalise(first_line, root)}"


def _first_error_line(text: str, fallback: str = "") -> str:
    for line in text.splitlines():
        if line.startswith("E ") and line[1:].strip():
            return line[1:].strip()
    return fallback.splitlines()[0] if fallback else ""


def _pytest(
    root: Path, cfg: ValidateConfig, selection: list[str]
) -> tuple[CommandResult, dict | None, str | None]:
    """Run the test command on selection (empty: everything); returns the run, results, JUnit XML."""
    fd, xml_path = tempfile.mkstemp(prefix="escalate-junit-", suffix=".xml")
    os.close(fd)
    os.unlink(xml_path)  # a missing file afterwards means pytest never got to write one
    argv = [
        *cfg.test_command,
        "-p",
        "no:cacheprovider",
        "-q",
        f"--junitxml={xml_path}",
        "-o",
        "junit_family=xunit1",  # adds the file attribute: exact node ids
        f"--rootdir={root}",
        "--continue-on-collection-errors",
        *selection,
    ]
    try:
        run = run_command(
            argv, root, timeout_s=cfg.timeout_s, memory_limit_mb=cfg.memory_limit_mb, env=_import_env(root)
        )
        xml = Path(xml_path).read_text() if os.path.exists(xml_path) else None
    finally:
        if os.path.exists(xml_path):
            os.unlink(xml_path)
    results = None
    if xml:
        try:
            results = parse_junit(xml, root)
        except ET.ParseError:  # a truncated report is treated like no report; a bug still shows
            results, xml = None, None
    return run, results, xml


def _import_env(root: Path) -> dict[str, str]:
    """The environment with the worktree (and its src/) first on PYTHONPATH.

    An editable install of the project points at the user's checkout; without this the
    tests would import the unpatched code from there instead of the worktree's.
    """
    env = dict(os.environ)
    paths = [str(root / "src")] if (root / "src").is_dir() else []
    paths.append(str(root))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _not_found(run: CommandResult, root: Path) -> list[str]:
    found = []
    for raw in _NOT_FOUND.findall(run.output):
        for prefix in (str(root.resolve()) + "/", str(root) + "/"):
            raw = raw.removeprefix(prefix)
        found.append(raw)
    return found


def _matching(target: str, results: dict[str, CaseResult]) -> list[str]:
    # A collection error of the target's module counts as the target failing.
    return [
        nodeid
        for nodeid, result in results.items()
        if selects(target, nodeid) or (result.outcome == "error" and selects(nodeid, target))
    ]


def _ruff(root: Path, cfg: ValidateConfig, paths: list[str]) -> tuple[CommandResult, list[dict] | None]:
    argv = [*cfg.ruff_command, "--output-format=json", "--no-cache", "--force-exclude", *paths]
    run = run_command(argv, root, timeout_s=cfg.timeout_s, memory_limit_mb=cfg.memory_limit_mb)
    if run.timed_out or run.returncode not in (0, 1):
        return run, None
    try:
        return run, json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return run, None


def _lint_key(finding: dict, root: Path) -> LintKey:
    path = os.path.relpath(os.path.realpath(finding.get("filename", "")), os.path.realpath(root))
    return (path.replace(os.sep, "/"), finding.get("code") or "syntax-error", finding.get("message", ""))


def _lint_line(finding: dict, root: Path) -> str:
    path, code, message = _lint_key(finding, root)
    loc = finding.get("location") or {}
    return f"{path}:{loc.get('row', '?')}:{loc.get('column', '?')}: {code} {message}"


# -- baseline ------------------------------------------------------------------------------


def run_baseline(root: Path, cfg: ValidateConfig, target_tests: list[str]) -> Baseline:
    """Measure the untouched base: the full suite (JUnit XML) and ruff over the tree."""
    root = Path(root)
    start = time.monotonic()
    run, results, _ = _pytest(root, cfg, [])
    if run.timed_out or results is None:
        why = (
            f"did not finish within validate.timeout_s={cfg.timeout_s:g} s"
            if run.timed_out
            else "wrote no report"
        )
        raise ValidationError(
            f"The test suite {why} at the base commit, so there is nothing to compare attempts with. "
            f"Check validate.test_command (it must run pytest) and validate.timeout_s.\n{run.describe()}"
        )
    suite_outcomes = {nodeid: r.outcome for nodeid, r in results.items()}
    targets = [_norm(t) for t in target_tests]
    unseen = [t for t in targets if not _matching(t, results)]
    if unseen:
        # Not part of the default suite run (outside testpaths?): run them by id once.
        extra_run, extra, _ = _pytest(root, cfg, unseen)
        missing = _not_found(extra_run, root)
        if missing or extra is None:
            named = ", ".join(missing or unseen)
            raise ValidationError(
                f"Target test not found at the base commit: {named}. Pass pytest node ids relative to the "
                f"repository root, e.g. tests/test_calc.py::test_add.\n{extra_run.describe()}"
            )
        results = {**results, **extra}
        still = [t for t in unseen if not _matching(t, results)]
        if still:
            raise ValidationError(f"Target test not collected at the base commit: {', '.join(still)}.")
    failing = {nodeid for nodeid, result in results.items() if result.failed}
    target_failures = {
        nodeid: results[nodeid].text or results[nodeid].message
        for t in targets
        for nodeid in _matching(t, results)
        if results[nodeid].failed
    }
    findings: Counter[LintKey] = Counter()
    if cfg.ruff:
        lint_run, data = _ruff(root, cfg, ["."])
        if data is None:
            raise ValidationError(
                "ruff could not check the base commit; fix validate.ruff_command or set validate.ruff: false."
                f"\n{lint_run.describe()}"
            )
        findings.update(_lint_key(f, root) for f in data)
    return Baseline(
        failing_tests=failing,
        lint_findings=findings,
        target_failures=target_failures,
        outcomes=suite_outcomes,
        duration_s=time.monotonic() - start,
    )


# -- stages --------------------------------------------------------------------------------


def _fail(stage: str, reason: str, feedback: str, signature: str, cfg: ValidateConfig, **kw) -> Verdict:
    return Verdict(False, stage, reason, truncate_feedback(feedback, cfg.feedback_chars), signature, **kw)


def _stage_syntax(root: Path, py_files: list[str], cfg: ValidateConfig) -> Verdict | None:
    for rel in py_files:
        try:
            compile((root / rel).read_bytes(), rel, "exec", dont_inherit=True)
        except SyntaxError as exc:
            line = (exc.text or "").rstrip("\n")
            caret = " " * max((exc.offset or 1) - 1 - (len(line) - len(line.lstrip())), 0) + "^"
            where = f"{rel}:{exc.lineno}:{exc.offset or 0}"
            feedback = f"SyntaxError in {where}: {exc.msg}\n    {line.strip()}\n    {caret}\n"
            reason = f"syntax error in {rel} line {exc.lineno}: {exc.msg}"
            return _fail("syntax", reason, feedback, f"syntax|{rel}|{exc.msg}", cfg)
        except ValueError as exc:  # e.g. null bytes
            return _fail(
                "syntax", f"{rel} cannot be compiled: {exc}", f"{rel}: {exc}\n", f"syntax|{rel}|{exc}", cfg
            )
    return None


def _stage_lint(root: Path, py_files: list[str], baseline: Baseline, cfg: ValidateConfig) -> Verdict | None:
    run, data = _ruff(root, cfg, py_files)
    if data is None:
        reason = "ruff failed to run" if not run.timed_out else f"ruff timed out after {cfg.timeout_s:g} s"
        return _fail("lint", reason, run.describe(), f"lint|{reason}", cfg)
    now = Counter(_lint_key(f, root) for f in data)
    before = Counter(baseline.lint_findings)  # a plain set (one of each) is accepted too
    surplus = {key: n - before.get(key, 0) for key, n in now.items()}
    new = sorted(key for key, n in surplus.items() if n > 0)
    if not new:
        return None
    lines = [_lint_line(f, root) for f in data if _lint_key(f, root) in new]
    feedback = "New ruff findings (findings that existed before your change are not listed):\n" + "\n".join(
        lines
    )
    codes = ", ".join(f"{code} in {path}" for path, code, _ in new[:3]) + (" ..." if len(new) > 3 else "")
    count = sum(surplus[k] for k in new)
    reason = f"{count} new ruff finding{'s' if count > 1 else ''}: {codes}"
    return _fail("lint", reason, feedback, "lint|" + ";".join("|".join(k) for k in new), cfg)


def _failure_report(ids: list[str], results: dict[str, CaseResult], header: str) -> str:
    parts = [header]
    for nodeid in ids:
        result = results.get(nodeid)
        body = (result.text or result.message) if result else "(not collected: the test no longer exists)"
        parts.append(f"{'_' * 20} {nodeid} {'_' * 20}\n{body.rstrip()}")
    return "\n\n".join(parts) + "\n"


def _test_failure(
    stage: str, ids: list[str], results: dict[str, CaseResult], header: str, root: Path, cfg, junit
) -> Verdict:
    first = ids[0]
    result = results.get(first)
    line = _first_error_line(result.text, result.message) if result else "not collected"
    extra = f" (+{len(ids) - 1} more)" if len(ids) > 1 else ""
    reason = f"{first}{extra}: {line}" if line else f"{first}{extra}"
    reason = ("target test failed: " if stage == "target" else "new failure in the full suite: ") + reason
    feedback = _failure_report(ids, results, header)
    sig = signature_of(stage, ids, line, root)
    return _fail(stage, reason[:300], feedback, sig, cfg, failing_tests=sorted(ids), junit=junit)


def _broken_run(stage: str, run: CommandResult, cfg: ValidateConfig, junit) -> Verdict:
    if run.timed_out:
        reason = f"timed out after {cfg.timeout_s:g} s"
        feedback = f"The tests did not finish within {cfg.timeout_s:g} s (an endless loop or a hang?).\n"
        return _fail(stage, reason, feedback + run.describe(), f"{stage}|timeout", cfg, junit=junit)
    reason = f"the test run crashed (exit code {run.returncode}) without a report"
    first = next((ln for ln in run.output.splitlines() if ln.startswith(("E ", "ERROR"))), "")
    return _fail(stage, reason, run.describe(), f"{stage}|crash|{first}", cfg, junit=junit)


def _stage_target(root: Path, targets: list[str], cfg: ValidateConfig) -> Verdict | None:
    run, results, junit = _pytest(root, cfg, targets)
    missing = _not_found(run, root)
    if missing:
        reason = f"target test no longer exists: {', '.join(missing)}"
        feedback = (
            f"The target tests must still exist and pass; not found: {', '.join(missing)}\n{run.describe()}"
        )
        return _fail("target", reason, feedback, "target|missing|" + ",".join(sorted(missing)), cfg)
    if run.timed_out or results is None:
        return _broken_run("target", run, cfg, junit)
    bad = []
    for t in targets:
        ids = _matching(t, results)
        if not ids:
            bad.append(t)
        # A skipped or xfailed target is not a fixed one.
        bad.extend(nodeid for nodeid in ids if results[nodeid].outcome != "passed")
    if not bad:
        return None
    header = "The target tests still fail (they must pass, not be skipped or removed):"
    return _test_failure("target", sorted(set(bad)), results, header, root, cfg, junit)


def _stage_suite(root: Path, baseline: Baseline, cfg: ValidateConfig) -> Verdict | None:
    run, results, junit = _pytest(root, cfg, [])
    if run.timed_out or results is None:
        return _broken_run("suite", run, cfg, junit)
    new = {nodeid for nodeid, r in results.items() if r.failed} - baseline.failing_tests
    # Tests that passed at base and are gone now: deleting a test is not a fix.
    gone = {nodeid for nodeid, outcome in baseline.outcomes.items() if outcome == "passed"} - results.keys()
    bad = sorted(new | gone)
    if not bad:
        return None
    header = "These tests passed before your change and fail (or are gone) now:"
    return _test_failure("suite", bad, results, header, root, cfg, junit)


def validate(
    root: Path, changed: list[str], baseline: Baseline, target_tests: list[str], cfg: ValidateConfig
) -> Verdict:
    """Check the worktree in stages (syntax, lint, target, suite); stop at the first failure."""
    root = Path(root)
    start = time.monotonic()
    py_files = sorted({_norm(p) for p in changed if p.endswith(".py") and (root / _norm(p)).is_file()})
    targets = [_norm(t) for t in target_tests]
    verdict = _stage_syntax(root, py_files, cfg)
    if verdict is None and cfg.ruff and py_files:
        verdict = _stage_lint(root, py_files, baseline, cfg)
    if verdict is None and targets:
        verdict = _stage_target(root, targets, cfg)
    if verdict is None and cfg.full_suite:
        verdict = _stage_suite(root, baseline, cfg)
    if verdict is None:
        verdict = Verdict(True, "ok", "all validation stages passed", "", "ok")
    verdict.duration_s = time.monotonic() - start
    return verdict
