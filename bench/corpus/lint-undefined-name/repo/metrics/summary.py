"""Latency summaries for the nightly performance report."""

from __future__ import annotations

import math


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples``."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(samples: list[float], robust: bool = False) -> dict[str, float]:
    """p50/p95/max of the samples; ``robust`` uses the median instead of the mean as the centre."""
    if robust:
        centre = statistics.median(samples)
    else:
        centre = sum(samples) / len(samples)
    return {
        "centre": centre,
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "max": max(samples),
    }
