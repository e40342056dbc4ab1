"""bench.calibration: per-attempt success probabilities solved so that each always-X arm's expected
resolve rate over the real corpus is the line's SWE-bench Verified score."""

from __future__ import annotations

import pytest

from bench.calibration import (  # noqa: E402
    RHO,
    TARGETS,
    arm_attempts,
    attempt_success,
    calibrate,
    corpus_calibration,
    expected_resolve_rate,
)
from bench.corpus import load_corpus  # noqa: E402
from bench.taskrun import oracle_script  # noqa: E402


@pytest.fixture(scope="module")
def difficulties() -> list[float]:
    ds = [t.difficulty for t in load_corpus()]
    assert len(ds) >= 30  # the real corpus, not an empty directory
    return ds


def test_solved_p_reproduces_each_target_on_the_corpus(difficulties):
    c = calibrate(difficulties)
    assert set(c["success"]) == set(TARGETS) == {"haiku", "sonnet", "opus"}
    for line, target in TARGETS.items():
        attempts = arm_attempts(line)
        rate = expected_resolve_rate(c["success"][line], difficulties, RHO, attempts)
        assert abs(rate - target) < 0.001, (line, rate, target)  # within 0.1 percentage points


def test_ordering_haiku_sonnet_opus(difficulties):
    p = calibrate(difficulties)["success"]
    assert 0 < p["haiku"] < p["sonnet"] < p["opus"] < 1


def test_attempts_come_from_the_always_x_arms_config():
    assert {line: arm_attempts(line) for line in TARGETS} == {"haiku": 2, "sonnet": 2, "opus": 2}


def test_more_attempts_need_a_lower_per_attempt_p(difficulties):
    one = calibrate(difficulties, attempts={k: 1 for k in TARGETS})["success"]
    two = calibrate(difficulties, attempts={k: 2 for k in TARGETS})["success"]
    assert all(two[k] < one[k] for k in TARGETS)


def test_uniform_difficulty_and_one_attempt_gives_back_p():
    # The copula's score is uniform when d is: the marginal rate of one attempt is p itself.
    grid = [(i + 0.5) / 2000 for i in range(2000)]
    assert expected_resolve_rate(0.6, grid, 0.9, 1) == pytest.approx(0.6, abs=2e-3)
    assert attempt_success(0.0, 0.3, 0.9) == 0.0 and attempt_success(1.0, 0.3, 0.9) == 1.0


def test_oracle_script_uses_the_calibration():
    task = load_corpus()[0]
    oracle = oracle_script([task], seed=1)["oracle"]
    c = corpus_calibration()
    assert oracle["success"] == c["success"]
    assert oracle["correlation"] == c["rho"] == RHO == 0.9
