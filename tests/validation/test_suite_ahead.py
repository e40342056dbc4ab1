"""The full suite's run beside the target tests' run: same verdicts, killed when a target fails."""

from __future__ import annotations

import sys
from collections import Counter

import pytest
from samplerepo import CALC_TARGET, PYTEST_COMMAND, make_calc_repo

from escalate.config import ValidateConfig
from escalate.validation import baseline as baseline_module
from escalate.validation import stages, suite_ahead
from escalate.validation.stages import Baseline, run_baseline, validate
from escalate.validation.suite_ahead import SuiteAhead, can_start_beside
from escalate.workspace.sandbox import probe_bwrap

needs_bwrap = pytest.mark.skipif(
    not probe_bwrap().ok, reason="the suite runs beside the targets only sandboxed"
)
FOREVER = {"tests/test_forever.py": "import time\n\n\ndef test_forever():\n    time.sleep(600)\n"}


def config(**kw) -> ValidateConfig:
    ruff = [sys.executable, "-m", "ruff", "check"]
    return ValidateConfig(**{"test_command": PYTEST_COMMAND, "ruff_command": ruff, "timeout_s": 300, **kw})


def _counting(monkeypatch, module) -> list[list[str]]:
    """Each run_pytest call of module, by selection (the calls still run)."""
    seen: list[list[str]] = []
    real = module.run_pytest

    def run_pytest(root, cfg, selection, **kw):
        seen.append(list(selection))
        return real(root, cfg, selection, **kw)

    monkeypatch.setattr(module, "run_pytest", run_pytest)
    return seen


def test_the_suite_runs_beside_the_targets_only_when_each_run_has_its_own_sandbox():
    assert not can_start_beside(config(sandbox="none"), [CALC_TARGET])
    assert not can_start_beside(config(sandbox="bwrap", full_suite=False), [CALC_TARGET])
    assert not can_start_beside(config(sandbox="bwrap", suite_beside_targets=False), [CALC_TARGET])
    if probe_bwrap().ok:
        assert can_start_beside(config(sandbox="bwrap"), [CALC_TARGET])
        assert not can_start_beside(config(sandbox="bwrap"), [])


@needs_bwrap
@pytest.mark.timeout(120)  # without the kill the suite would sleep for 600 s
def test_a_failing_target_kills_the_suite_run_beside_it(tmp_path):
    root = make_calc_repo(tmp_path, FOREVER)
    cfg = config(sandbox="bwrap")
    ahead = SuiteAhead(root, cfg, [])
    verdict = stages._stage_target(root, [CALC_TARGET], cfg, ahead)
    assert verdict is not None and verdict.stage == "target"
    killed = ahead.result()
    assert ahead.runs == 1 and not killed.timed_out and not killed.complete
    assert killed.run.returncode is not None and killed.run.returncode < 0  # a signal, not an exit


@needs_bwrap
@pytest.mark.timeout(120)
def test_a_cancel_before_the_run_starts_kills_it_as_it_starts(tmp_path):
    root = make_calc_repo(tmp_path, FOREVER)
    ahead = SuiteAhead(root, config(sandbox="bwrap"), [])
    ahead.start()
    ahead.cancel()
    assert not ahead.result().complete


@needs_bwrap
def test_the_suite_verdict_comes_from_the_run_beside_the_targets(tmp_path, monkeypatch):
    root = make_calc_repo(tmp_path)
    cfg = config(sandbox="bwrap", ruff=False)
    baseline = run_baseline(root, cfg, [CALC_TARGET])  # the full suite at base: nothing re-run there
    ops = root / "calc" / "ops.py"
    # Fixes the target, breaks sub(): a new failure only the full suite sees.
    ops.write_text(ops.read_text().replace("a - b", "a + b"))
    beside, after, other = (_counting(monkeypatch, m) for m in (suite_ahead, baseline_module, stages))
    verdict = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], cfg)
    assert verdict.stage == "suite" and verdict.failing_tests == ["tests/test_ops.py::test_sub"]
    assert beside == [[]]  # the suite's one run, started beside the targets'
    assert after == []  # not run again after the targets
    assert other[0] == [CALC_TARGET]


@needs_bwrap
def test_a_passing_attempt_passes_with_the_suite_beside_the_targets(tmp_path):
    root = make_calc_repo(tmp_path)
    cfg = config(sandbox="bwrap", ruff=False)
    baseline = run_baseline(root, cfg, [CALC_TARGET])
    ops = root / "calc" / "ops.py"
    ops.write_text(
        ops.read_text().replace("def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b")
    )
    verdict = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], cfg)
    assert verdict.passed, verdict.reason


@needs_bwrap
@pytest.mark.timeout(120)  # without the kill, waiting for the result would last the suite's 600 s
def test_ctrl_c_while_waiting_for_the_suite_kills_it(tmp_path):
    import signal

    root = make_calc_repo(tmp_path, FOREVER)
    ahead = SuiteAhead(root, config(sandbox="bwrap"), [])
    ahead.start()

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 3)
    try:
        with pytest.raises(KeyboardInterrupt):
            ahead.result()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert ahead._future is not None and ahead._future.done()  # the run was killed, its thread is gone


@needs_bwrap
@pytest.mark.timeout(120)  # without the kill, the suite started beside ruff would sleep for 600 s
def test_the_suite_starts_beside_ruff_and_a_new_finding_kills_it(tmp_path, monkeypatch):
    root = make_calc_repo(tmp_path, FOREVER)
    cfg = config(sandbox="bwrap")
    baseline = Baseline(set(), Counter(), {CALC_TARGET: "assert -1 == 3"})  # the base's suite would hang
    events: list[str] = []
    real_start, real_ruff = SuiteAhead.start, stages.ruff_findings

    def start(self):
        events.append("suite")
        return real_start(self)

    def ruff_findings(*args, **kw):
        events.append("ruff")
        return real_ruff(*args, **kw)

    monkeypatch.setattr(SuiteAhead, "start", start)
    monkeypatch.setattr(stages, "ruff_findings", ruff_findings)
    beside = _counting(monkeypatch, suite_ahead)
    ops = root / "calc" / "ops.py"
    ops.write_text("import os\n" + ops.read_text().replace("a - b", "a + b"))  # F401: a new finding
    verdict = validate(root, ["calc/ops.py"], baseline, [CALC_TARGET], cfg)
    assert verdict.stage == "lint" and "F401" in verdict.reason
    assert events[:2] == ["suite", "ruff"]  # the suite's run was under way while ruff checked
    assert beside == [[]]  # started, then killed: validate did not wait for the 600 s test
