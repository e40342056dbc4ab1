"""bench.sidebyside: the generated suites hold a real one-line bug that the fix edit mends, and
the shims count the processes they stand in for."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.corpus import apply_edits
from bench.sidebyside import SUITES, _bootstrap_ratio, _sdk_import, _shim, sidebyside_section, suite_project


def _pytest(root, *args) -> int:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=root,
                          capture_output=True).returncode  # fmt: skip


def test_a_generated_suite_fails_on_its_target_until_the_fix(tmp_path):
    root = tmp_path / "s"
    targets, fix = suite_project(root, "suite_tiny", modules=2, tests=3, work=10)
    assert _pytest(root, *targets) == 1
    apply_edits(root, fix)
    assert _pytest(root) == 0  # the target and all 6 work tests pass


def test_the_shim_runs_the_real_command_and_logs_it(tmp_path):
    log = tmp_path / "procs.log"
    shim = _shim(tmp_path, "py-shim", [sys.executable, "-c", "import sys; sys.exit(int(sys.argv[1]))"], log)
    assert subprocess.run([str(shim), "3"]).returncode == 3
    kind, start, end, who, sub = log.read_text().split()
    assert kind == "py-shim" and int(end) >= int(start)
    assert who == "escalate" and sub == "3"  # started by escalate, not by a tool; its first argument


def test_ratio_interval_and_section():
    lo, hi = _bootstrap_ratio([2.0, 2.2, 2.1], [1.0, 1.1, 1.0])
    assert 1.7 < lo <= hi < 2.3
    # Without the SDK's import: (escalate - import) / by hand.
    lo, hi = _bootstrap_ratio([2.0, 2.2, 2.1], [1.0, 1.1, 1.0], minus=[0.5, 0.5, 0.6])
    assert 1.2 < lo <= hi < 1.8
    row = {"case": "c", "by_hand_median_s": 1.0, "escalate_median_s": 1.2, "ratio": 1.2,
           "ratio_ci95": [1.1, 1.3], "sdk_import_median_s": 0.15, "ratio_without_sdk": 1.05,
           "ratio_without_sdk_ci95": [1.0, 1.1], "pytest_runs": 3, "pytest_s": 0.9, "ruff_runs": 2,
           "git_calls": 30, "git_s": 0.2, "escalate_own_s": 0.4, "escalate_own_ci95": [0.3, 0.5]}  # fmt: skip
    met = {**row, "case": "m", "ratio_ci95": [1.1, 1.2]}
    missed = {**row, "case": "x", "ratio_ci95": [1.3, 1.5]}
    section = {"rows": [row, met, missed], "repeat": 3, "goal": 1.25, "suites_ratio_geomean": 1.25,
               "suites_ratio_without_sdk_geomean": 1.06}  # fmt: skip
    text = "\n".join(sidebyside_section(section))
    assert (
        "| c | 1.00 | 1.20 | 1.20 [1.10, 1.30] | 0.15 | 1.05 [1.00, 1.10] | 3 (0.90) | 2 | 30 (0.20) "
        "| 0.40 [0.30, 0.50] |" in text
    )
    # Every case is said against the goal, from its interval: met only when all of it is under.
    assert "c not shown (the interval spans it); m met; x missed." in text
    assert "3 s+ suites 1.25x, 3 s+ suites without the SDK's import 1.06x." in text


def test_the_sdk_import_floor_is_timed_by_a_real_import():
    assert 0 < _sdk_import(dict(os.environ)) < 60


def test_a_suite_of_quixbugs_size_is_among_the_cases():
    # The issue's own example (QuixBugs, about 9 s by hand) sits between the 3-5 s suites and the largest.
    assert "suite_quixbugs" in [name for name, *_ in SUITES]
