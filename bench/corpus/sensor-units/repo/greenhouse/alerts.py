"""Frost and heat alerts."""

from __future__ import annotations

from greenhouse.reader import Reading

FROST_C = 2.0
HEAT_C = 35.0


def check(reading: Reading) -> str | None:
    """An alert message for the reading, or None when it is within limits."""
    if reading.temperature <= FROST_C:
        return f"frost risk at {reading.sensor}: {reading.temperature:.1f} C"
    if reading.temperature >= HEAT_C:
        return f"heat alert at {reading.sensor}: {reading.temperature:.1f} C"
    return None
