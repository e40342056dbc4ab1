"""The base commit, measured as little as the decision needs.

With target tests, only they run at base: they decide reproduce / cannot-reproduce, and
their failures are what the model is shown. The full suite runs once per attempt, on the
patched tree (``stages``); the tests that fail there are re-run on the base through
``Baseline.at_base`` to tell pre-existing from new failures, and what is learnt is kept on
the Baseline (and, through ``remember``, in the ledger per commit). Without targets (or
without a way to put the base back in the tree) the full suite runs here, as before.

Before that, the tree must be testable at all: the project's packages import from it
(``environment.check_imports``), a collection error of a target is not a missing
dependency, and the run finished (an aborted run is tried once more, then reported as an
environment problem, never taken as the truth).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.errors import EscalateError
from escalate.validation.environment import EnvironmentProblem, check_imports, missing_dependency
from escalate.validation.junit import CaseResult, covers, norm_nodeid
from escalate.validation.lint import LintKey, lint_key, ruff_findings
from escalate.validation.testrun import TestRun, run_pytest

if TYPE_CHECKING:
    from escalate.config import ValidateConfig

__all__ = ["Baseline", "ValidationError", "EnvironmentProblem", "run_baseline", "matching"]

MAX_HANGS = 3  # tests deselected for hanging before a run is given up on


class ValidationError(EscalateError):
    """The base commit cannot be measured (test or lint command broken, a target test missing)."""


@dataclass
class Baseline:
    """The base commit as measured: failing tests, lint findings (a multiset), target failures."""

    failing_tests: set[str]
    lint_findings: Counter[LintKey]
    target_failures: dict[str, str]  # node id -> failure text, for each target test failing at base
    outcomes: dict[str, str] = field(default_factory=dict)  # node id -> outcome at base, as far as known
    duration_s: float = 0.0
    complete: bool = False  # outcomes cover the whole suite (the full suite ran at base)
    hanging: set[str] = field(default_factory=set)  # tests that hang at base: deselected from suite runs
    # Puts the base commit's files in the tree for the length of a with-block (Workspace.base_view).
    at_base: Callable[[], AbstractContextManager] | None = None
    remember: Callable[[dict[str, str]], None] | None = None  # keeps base outcomes (the ledger)

    def reproduces(self, target_tests: list[str]) -> bool:
        """True when at least one target test fails at base (always True without targets)."""
        if not target_tests:
            return True
        return any(
            covers(norm_nodeid(t), nodeid, self.outcomes.get(nodeid, "failed"))
            for t in target_tests
            for nodeid in self.target_failures
        )

    def base_outcome(self, nodeid: str) -> str | None:
        """A test's outcome at base: known, or implied by a collection error of its module, or None."""
        if nodeid in self.outcomes:
            return self.outcomes[nodeid]
        if self.complete:
            return "absent"
        for known, outcome in self.outcomes.items():
            if outcome == "error" and "::" not in known and covers(nodeid, known, "error"):
                return "error"
        return None

    def learn(self, outcomes: dict[str, str]) -> None:
        """Record outcomes measured at base (by a re-run), and hand them to ``remember``."""
        self.outcomes.update(outcomes)
        self.failing_tests.update(n for n, o in outcomes.items() if o in ("failed", "error"))
        if self.remember is not None and outcomes:
            self.remember(outcomes)


def matching(target: str, results: dict[str, CaseResult]) -> list[str]:
    """The result ids that speak for target (its cases, or its module's collection error)."""
    return [nodeid for nodeid, r in results.items() if covers(target, nodeid, r.outcome)]


def run_baseline(
    root: Path,
    cfg: ValidateConfig,
    target_tests: list[str],
    *,
    at_base: Callable[[], AbstractContextManager] | None = None,
    known: dict[str, str] | None = None,
    remember: Callable[[dict[str, str]], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> Baseline:
    """Measure the untouched base: the package imports, the target tests (or, without targets or
    ``at_base``, the full suite), and ruff over the tree. ``known`` holds outcomes at this commit
    from earlier runs (the ledger)."""
    root = Path(root)
    start = time.monotonic()
    targets = [norm_nodeid(t) for t in target_tests]
    hanging: set[str] = set()
    # The import check and ruff run beside the tests (each mostly waits on its own process); the
    # import check's answer comes first: it explains a target that cannot be collected.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="escalate-baseline") as pool:
        imports = pool.submit(check_imports, root, cfg)
        lint = pool.submit(ruff_findings, root, cfg, ["."]) if cfg.ruff else None
        try:
            if targets and at_base is not None:
                results = _targets_at_base(root, cfg, targets)
                suite = {nodeid: r.outcome for nodeid, r in results.items()}
                complete = False
            else:
                tr, hanging = run_suite(root, cfg, set(), "baseline", notify)
                _require_complete(tr, cfg, "the test suite")
                results = dict(tr.results or {})
                suite = {nodeid: r.outcome for nodeid, r in results.items()}
                complete = True
                unseen = [t for t in targets if not matching(t, results)]
                if unseen:  # not part of the default suite run (outside testpaths?): run them by id once
                    results.update(_targets_at_base(root, cfg, unseen))
        finally:
            imports.result()  # an EnvironmentProblem wins over what the tests said
    # A target (or, without targets, any module of the suite) that cannot be collected for a
    # reason outside the code stops the run: no patch can install a dependency.
    checked = [n for t in targets for n in matching(t, results)] if targets else list(results)
    for nodeid in checked:
        r = results[nodeid]
        if r.failed and (targets or "::" not in nodeid):
            problem = missing_dependency(root, cfg, r.text or r.message)
            if problem is not None:
                raise EnvironmentProblem(
                    f"{nodeid} cannot be collected at the base commit for a reason outside the code: "
                    + str(problem).split("\nTo fix it:")[0],
                    problem.fix,
                )
    # outcomes: what the suite run says (a complete picture) or what is known so far; a target run
    # outside the suite's testpaths stays out, so it is not taken for a deleted test.
    if remember is not None and not complete:
        remember(suite)  # the targets' outcomes at base, for later runs at this commit
    outcomes = {**((known or {}) if not complete else {}), **suite, **{h: "hang" for h in hanging}}
    failing = {nodeid for nodeid, outcome in outcomes.items() if outcome in ("failed", "error", "hang")}
    failing |= {nodeid for nodeid, r in results.items() if r.failed}
    target_failures = {
        nodeid: results[nodeid].text or results[nodeid].message
        for t in targets
        for nodeid in matching(t, results)
        if results[nodeid].failed
    }
    findings: Counter[LintKey] = Counter()
    if lint is not None:
        lint_run, data = lint.result()
        if data is None:
            raise ValidationError(
                "ruff could not check the base commit; fix validate.ruff_command or set validate.ruff: false."
                f"\n{lint_run.describe()}"
            )
        findings.update(lint_key(f, root) for f in data)
    return Baseline(
        failing_tests=failing,
        lint_findings=findings,
        target_failures=target_failures,
        outcomes=outcomes,
        duration_s=time.monotonic() - start,
        complete=complete,
        hanging=hanging,
        at_base=at_base,
        remember=remember,
    )


def _targets_at_base(root: Path, cfg: ValidateConfig, targets: list[str]) -> dict[str, CaseResult]:
    tr = run_pytest(root, cfg, targets)
    if tr.missing or (tr.results is None and not tr.timed_out and not tr.aborted):
        named = ", ".join(tr.missing or targets)
        raise ValidationError(
            f"Target test not found at the base commit: {named}. Pass pytest node ids relative to the "
            f"repository root, e.g. tests/test_calc.py::test_add.\n{tr.describe()}"
        )
    _require_complete(tr, cfg, "the target tests")
    results = tr.results or {}
    still = [t for t in targets if not matching(t, results)]
    if still:
        raise ValidationError(f"Target test not collected at the base commit: {', '.join(still)}.")
    return results


def _require_complete(tr: TestRun, cfg: ValidateConfig, what: str) -> None:
    if tr.timed_out:
        named = f" ({tr.hung} was running)" if tr.hung else ""
        raise ValidationError(
            f"Running {what} at the base commit did not finish within validate.timeout_s={cfg.timeout_s:g} s"
            f"{named}, so there is nothing to compare attempts with. Fix or deselect the hanging test, or "
            f"raise validate.timeout_s.\n{tr.describe()}"
        )
    if tr.aborted:
        raise EnvironmentProblem(
            f"Running {what} at the base commit aborted twice ({tr.aborted}), so it cannot be taken as "
            f"the truth: an environment error, not a verdict on the code.\n{tr.describe()}",
            "run the same command by hand in your checkout and fix what stops it",
        )
    if tr.results is None:
        raise ValidationError(
            f"Running {what} at the base commit wrote no report, so there is nothing to compare attempts "
            f"with. Check validate.test_command (it must run pytest) and validate.timeout_s.\n{tr.describe()}"
        )


def run_suite(
    root: Path,
    cfg: ValidateConfig,
    deselect: set[str],
    stage: str,
    notify: Callable[[str], None] | None,
    hangs_at_base: Callable[[str], bool] | None = None,
    first: TestRun | None = None,
) -> tuple[TestRun, set[str]]:
    """The full suite with deselect left out; a test that hangs (and, when hangs_at_base is given,
    hangs or fails at base too) is named, deselected and the suite run again, up to MAX_HANGS times.
    ``first``: the first such run, already made (``suite_ahead``). Returns the last run and the
    tests deselected for hanging."""
    hung: set[str] = set()
    while True:
        tr = first or run_pytest(root, cfg, [], deselect=sorted(deselect | hung))
        first = None
        if not tr.timed_out or not tr.hung or len(hung) >= MAX_HANGS:
            return tr, hung
        if notify is not None:
            notify(
                f"{stage}: {tr.hung} did not finish within {cfg.timeout_s:g} s "
                f"({tr.run.duration_s:.1f} s elapsed); running the suite again without it"
            )
        if hangs_at_base is not None and not hangs_at_base(tr.hung):
            return tr, hung  # the patch made it hang: the caller blames it
        hung.add(tr.hung)
