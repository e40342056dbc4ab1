"""Baseline and staged validation: is this patch an improvement by the repository's own standards?

The untouched base is measured once (``run_baseline``): which tests fail, which ruff
findings exist. An attempt is then checked in stages, cheapest first, stopping at the
first failure (``validate``). The stages are objects in one list, ``STAGES``: ``syntax``
(compile the changed files), ``lint`` (ruff on the changed files; only findings new against
the baseline count), ``target`` (the target tests alone must pass), ``suite`` (the full suite;
only failures new against the baseline count). Pre-existing problems never fail an attempt.
A new stage is one more ``Stage`` there: validation, the PR body and docs/validation.md read it.

Tests and ruff run through ``escalate.workspace.process.run_command`` in the sandbox that
``validate.sandbox`` asks for (``escalate.workspace.sandbox``): an exported copy of the tree, no
secrets, a timeout and memory/process caps on the whole process tree.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.validation import Attempt, Stage
from escalate.validation.baseline import (
    Baseline,
    EnvironmentProblem,
    ValidationError,
    matching,
    run_baseline,
    run_suite,
)
from escalate.validation.junit import CaseResult, norm_nodeid
from escalate.validation.lint import lint_key, lint_line, ruff_findings
from escalate.validation.suite_ahead import SuiteAhead, can_start_beside
from escalate.validation.testrun import TestRun, run_pytest
from escalate.workspace.process import safe_env

if TYPE_CHECKING:
    from escalate.config import ValidateConfig

__all__ = [
    "Baseline",
    "EnvironmentProblem",
    "ValidationError",
    "STAGES",
    "Verdict",
    "run_baseline",
    "validate",
    "safe_env",
    "truncate_feedback",
    "signature_of",
]

# Lines of failure output most worth keeping when feedback must be cut.
_KEY_LINE = re.compile(r"^(E\s|>\s|\S+\.py:\d+:|FAILED |ERROR )|Error\b|assert", re.MULTILINE)


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
    flaky: list[str] = field(default_factory=list)  # failed once on the patched tree, passed on re-run


# -- helpers -------------------------------------------------------------------------------


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
    run, data = ruff_findings(root, cfg, py_files)
    if data is None:
        reason = "ruff failed to run" if not run.timed_out else f"ruff timed out after {cfg.timeout_s:g} s"
        return _fail("lint", reason, run.describe(), f"lint|{reason}", cfg)
    now = Counter(lint_key(f, root) for f in data)
    before = Counter(baseline.lint_findings)  # a plain set (one of each) is accepted too
    surplus = {key: n - before.get(key, 0) for key, n in now.items()}
    new = sorted(key for key, n in surplus.items() if n > 0)
    if not new:
        return None
    lines = [lint_line(f, root) for f in data if lint_key(f, root) in new]
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


def _broken_run(stage: str, tr: TestRun, cfg: ValidateConfig) -> Verdict:
    if tr.timed_out:
        hung = f" in {tr.hung}" if tr.hung else ""
        reason = f"timed out after {cfg.timeout_s:g} s{hung}"
        feedback = (
            f"The tests did not finish within {cfg.timeout_s:g} s (an endless loop or a hang?){hung}.\n"
        )
        return _fail(
            stage, reason, feedback + tr.describe(), f"{stage}|timeout|{tr.hung}", cfg, junit=tr.junit
        )
    why = tr.aborted or f"exit code {tr.run.returncode}, no report"
    reason = f"the test run crashed ({why})"
    first = next(
        (ln for ln in tr.run.output.splitlines() if ln.startswith(("E ", "ERROR", "INTERNALERROR"))), ""
    )
    return _fail(stage, reason, tr.describe(), f"{stage}|crash|{first}", cfg, junit=tr.junit)


def _stage_target(
    root: Path, targets: list[str], cfg: ValidateConfig, ahead: SuiteAhead | None = None
) -> Verdict | None:
    if ahead is not None:
        ahead.start()  # the suite's first run, beside this one (each in its own sandbox)
    verdict = _targets_verdict(root, targets, cfg)
    if verdict is not None and ahead is not None:
        ahead.cancel()  # a failed attempt stops at the targets: the suite's answer is not needed
    return verdict


def _targets_verdict(root: Path, targets: list[str], cfg: ValidateConfig) -> Verdict | None:
    tr = run_pytest(root, cfg, targets)
    if tr.missing:
        missing = list(tr.missing)
        reason = f"target test no longer exists: {', '.join(missing)}"
        feedback = (
            f"The target tests must still exist and pass; not found: {', '.join(missing)}\n{tr.describe()}"
        )
        return _fail("target", reason, feedback, "target|missing|" + ",".join(sorted(missing)), cfg)
    if not tr.complete:
        return _broken_run("target", tr, cfg)
    results = tr.results or {}
    bad = []
    for t in targets:
        ids = matching(t, results)
        if not ids:
            bad.append(t)
        # A skipped or xfailed target is not a fixed one.
        bad.extend(nodeid for nodeid in ids if results[nodeid].outcome != "passed")
    if not bad:
        return None
    header = "The target tests still fail (they must pass, not be skipped or removed):"
    return _test_failure("target", sorted(set(bad)), results, header, root, cfg, tr.junit)


def _is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _at_base(root: Path, baseline: Baseline, cfg: ValidateConfig, ids: list[str]) -> dict[str, str] | None:
    """Outcomes of ids on the base commit's files (None when the base cannot be put back or the
    run did not complete); what is learnt is kept on the baseline."""
    if baseline.at_base is None or not ids:
        return None
    with baseline.at_base():
        tr = run_pytest(root, cfg, ids)
    if tr.timed_out and tr.hung:
        return {tr.hung: "hang"}
    if not tr.complete:
        return None
    outcomes = {nodeid: r.outcome for nodeid, r in (tr.results or {}).items()}
    baseline.learn(outcomes)
    return outcomes


def _stage_suite(
    root: Path,
    baseline: Baseline,
    cfg: ValidateConfig,
    changed: list[str],
    notify: Callable[[str], None] | None,
    ahead: SuiteAhead | None = None,
) -> Verdict | None:
    def hangs_at_base(nodeid: str) -> bool:
        outcome = baseline.base_outcome(nodeid)
        if outcome is None:
            outcome = (_at_base(root, baseline, cfg, [nodeid]) or {}).get(nodeid)
        return outcome in ("failed", "error", "hang")

    first = ahead.result() if ahead is not None and ahead.started else None
    tr, hung = run_suite(root, cfg, set(baseline.hanging), "suite", notify, hangs_at_base, first)
    baseline.hanging |= hung
    if not tr.complete:
        return _broken_run("suite", tr, cfg)
    results = tr.results or {}
    failed = {nodeid for nodeid, r in results.items() if r.failed}
    gone = set()
    if baseline.complete:
        # Tests that passed at base and are gone now: deleting a test is not a fix.
        gone = {nodeid for nodeid, o in baseline.outcomes.items() if o == "passed"} - results.keys()
    else:
        touched = [p for p in changed if _is_test_file(p)]
        base = _at_base(root, baseline, cfg, touched) or {}
        gone = {nodeid for nodeid, o in base.items() if o == "passed"} - results.keys()
    # Failures whose base outcome is unknown are re-run on the base, once, all together.
    unknown = sorted(n for n in failed if baseline.base_outcome(n) is None)
    _at_base(root, baseline, cfg, unknown)
    suspects = sorted(n for n in failed if baseline.base_outcome(n) not in ("failed", "error", "hang"))
    flaky: list[str] = []
    if suspects:
        # Passed at base, failed here: once more on the patched tree; a pass now is a flaky test.
        again = run_pytest(root, cfg, suspects)
        if again.complete:
            flaky = sorted(
                n
                for n in suspects
                if (again.results or {}).get(n, CaseResult(n, "failed")).outcome == "passed"
            )
            if flaky and notify is not None:
                notify(
                    f"suite: flaky (failed, passed on re-run; not blamed on the patch): {', '.join(flaky)}"
                )
    bad = sorted((set(suspects) - set(flaky)) | gone)
    if not bad:
        if flaky:
            return Verdict(True, "ok", "all validation stages passed", "", "ok", flaky=flaky)
        return None
    header = "These tests passed before your change and fail (or are gone) now:"
    verdict = _test_failure("suite", bad, results, header, root, cfg, tr.junit)
    verdict.flaky = flaky
    return verdict


# The registry: every stage, keyed by name, in the order they run (cheapest first).
STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            "syntax", "syntax",
            runs="`compile()` of each changed `.py` file",
            fails_when="a syntax error (`file:line:col` and the message)",
            check=lambda a: _stage_syntax(a.root, a.py_files, a.cfg),
            starts_suite=False,
        ),
        Stage(
            "lint", "ruff (no new findings)",
            runs="`ruff check --no-fix --output-format=json --no-cache --force-exclude --ignore-noqa "
            "<changed .py files>`",
            fails_when="a finding that is new against the baseline "
            "(a `noqa` comment the patch adds hides nothing)",
            configured=lambda cfg: cfg.ruff,
            applies=lambda a: bool(a.py_files),
            check=lambda a: _stage_lint(a.root, a.py_files, a.baseline, a.cfg),
        ),
        Stage(
            "target", "target tests",
            runs="the test command on the target tests only",
            fails_when="a target fails, errors, is skipped/xfailed, or no longer exists",
            applies=lambda a: bool(a.targets),
            check=lambda a: _stage_target(a.root, a.targets, a.cfg, a.suite_ahead),
        ),
        Stage(
            "suite", "full test suite (no new failures)",
            runs="the full suite, once, on the patched tree (if `validate.full_suite`)",
            fails_when="a test fails that passes at base, or a test that passed at base is gone",
            configured=lambda cfg: cfg.full_suite,
            check=lambda a: _stage_suite(a.root, a.baseline, a.cfg, a.changed, a.notify, a.suite_ahead),
        ),
    )
}  # fmt: skip


def stage_table() -> str:
    """The stages as the Markdown table in docs/validation.md (a test keeps the two equal)."""
    rows = ["| stage | what runs | fails when |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {s.runs} | {s.fails_when} |" for s in STAGES.values()]
    return "\n".join(rows)


def validate(
    root: Path,
    changed: list[str],
    baseline: Baseline,
    target_tests: list[str],
    cfg: ValidateConfig,
    *,
    notify: Callable[[str], None] | None = None,
) -> Verdict:
    """Check the worktree in ``STAGES`` order; stop at the first failure."""
    root = Path(root)
    start = time.monotonic()
    changed = [norm_nodeid(p) for p in changed]
    py_files = sorted({p for p in changed if p.endswith(".py") and (root / p).is_file()})
    targets = [norm_nodeid(t) for t in target_tests]
    ahead = SuiteAhead(root, cfg, sorted(baseline.hanging)) if can_start_beside(cfg, targets) else None
    attempt = Attempt(root, changed, py_files, targets, baseline, cfg, notify, ahead)
    verdict = None
    try:
        for stage in STAGES.values():
            if stage.configured(cfg) and stage.applies(attempt):
                if ahead is not None and stage.starts_suite:
                    ahead.start()  # the suite's first run, beside ruff and the targets (its own sandbox)
                verdict = stage.check(attempt)
                if verdict is not None:
                    break
    finally:
        if ahead is not None:
            ahead.cancel()  # not started, or its answer not needed (an earlier stage failed)
    if verdict is None:
        verdict = Verdict(True, "ok", "all validation stages passed", "", "ok")
    verdict.duration_s = time.monotonic() - start
    return verdict
