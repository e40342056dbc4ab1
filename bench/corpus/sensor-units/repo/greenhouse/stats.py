"""Daily statistics for the dashboard."""

from __future__ import annotations

from greenhouse.reader import Reading


def daily_summary(readings: list[Reading]) -> dict[str, float]:
    if not readings:
        raise ValueError("no readings")
    temps = [r.temperature / 10 for r in readings]
    return {
        "min": min(temps),
        "max": max(temps),
        "mean": round(sum(temps) / len(temps), 1),
        "humidity": round(sum(r.humidity for r in readings) / len(readings), 1),
    }
