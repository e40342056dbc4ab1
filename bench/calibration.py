"""Arm-level calibration of the oracle's per-attempt success probabilities.

The routing report's SWE-bench Verified scores (73.3 / 77.2 / 80.9) are per-task resolve rates.
The oracle decides attempts, not tasks, and the corpus tasks carry their own difficulty, so using
the scores as per-attempt probabilities makes every always-X arm resolve nearly everything. Here
each model line's per-attempt ``p`` is solved so that the *expected* always-X resolve rate over the
corpus, with its difficulties, the copula correlation ``rho`` and the attempts the always-X arm gets
(``max_attempts`` of its tier), equals the target.

The oracle's success model (docs/sim.md, "Oracle"): ``score = Phi(rho*Phi^-1(d) +
sqrt(1-rho^2)*Phi^-1(u))``, success iff ``score < p``, with the noise ``u`` drawn per attempt. For a
task of difficulty ``d``:

    P(attempt succeeds | d) = Phi((Phi^-1(p) - rho*Phi^-1(d)) / sqrt(1 - rho^2))
    P(resolved in n attempts | d) = 1 - (1 - P(attempt succeeds | d))^n

averaged over the tasks; increasing in ``p``, so bisection finds it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from statistics import NormalDist, fmean

# Per-task resolve rates by model line: the routing report's SWE-bench Verified scores.
TARGETS = {"haiku": 0.733, "sonnet": 0.772, "opus": 0.809}
# Copula correlation set in the bench's oracle script (the sim's default is 0.8). 0.9 lets a
# task's difficulty dominate the per-attempt noise: a retry on the same tier rarely rescues a
# hard task, and a task hard for Opus is hard for Haiku.
RHO = 0.9
# The always-X arm of each line (bench.economics.SINGLE).
LINE_ARMS = {"haiku": "always-haiku", "sonnet": "always-sonnet", "opus": "always-opus"}

_N = NormalDist()
_EPS = 1e-9  # the oracle clamps difficulty to [1e-9, 1 - 1e-9]


def attempt_success(p: float, d: float, rho: float) -> float:
    """P(one attempt at a task of difficulty ``d`` succeeds) for per-attempt probability ``p``."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    d = min(max(d, _EPS), 1 - _EPS)
    return _N.cdf((_N.inv_cdf(p) - rho * _N.inv_cdf(d)) / math.sqrt(1 - rho**2))


def expected_resolve_rate(p: float, difficulties: Sequence[float], rho: float, attempts: int) -> float:
    """Expected always-X resolve rate over tasks of ``difficulties``, ``attempts`` attempts each."""
    return fmean(1 - (1 - attempt_success(p, d, rho)) ** attempts for d in difficulties)


def solve_p(
    target: float, difficulties: Sequence[float], rho: float, attempts: int, tol: float = 1e-12
) -> float:
    """The per-attempt ``p`` whose expected resolve rate is ``target`` (bisection on (0, 1))."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"target resolve rate must be in (0, 1), got {target}")
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if expected_resolve_rate(mid, difficulties, rho, attempts) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def arm_attempts(line: str) -> int:
    """``max_attempts`` of the tier the always-X arm of ``line`` runs, read from its config."""
    from bench.economics import arm_overrides
    from escalate.config import TierConfig

    (tier,) = arm_overrides(LINE_ARMS[line])["tiers"]
    return TierConfig.model_validate(tier).max_attempts


def calibrate(
    difficulties: Sequence[float],
    rho: float = RHO,
    targets: dict[str, float] | None = None,
    attempts: dict[str, int] | None = None,
) -> dict:
    """Per-attempt ``p`` per line so that each always-X arm's expected resolve rate hits its target.

    Returns {"rho", "targets", "attempts", "success" (line -> p), "expected" (line -> rate)}."""
    targets = dict(targets or TARGETS)
    attempts = dict(attempts or {line: arm_attempts(line) for line in targets})
    success = {line: solve_p(t, difficulties, rho, attempts[line]) for line, t in targets.items()}
    return {
        "rho": rho,
        "targets": targets,
        "attempts": attempts,
        "tasks": len(difficulties),
        "success": success,
        "expected": {
            line: expected_resolve_rate(p, difficulties, rho, attempts[line]) for line, p in success.items()
        },
    }


@lru_cache(maxsize=1)
def corpus_calibration() -> dict:
    """The calibration on the whole corpus (``bench/corpus/``), whatever subset a run uses: it is a
    property of the model lines, not of the tasks a run happens to pick."""
    from bench.corpus import load_corpus

    return calibrate([t.difficulty for t in load_corpus()])
