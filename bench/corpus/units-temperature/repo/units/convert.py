"""Unit conversion for the weather station feed: lengths by factor, temperatures by formula."""

from __future__ import annotations

LENGTH_IN_METRES = {"m": 1.0, "km": 1000.0, "cm": 0.01, "mi": 1609.344, "ft": 0.3048}


class UnknownUnit(ValueError):
    pass


def _to_celsius(value: float, unit: str) -> float:
    if unit == "C":
        return value
    if unit == "F":
        return (value - 32) * 5 / 9
    if unit == "K":
        return value - 273.15
    raise UnknownUnit(unit)


def _from_celsius(value: float, unit: str) -> float:
    if unit == "C":
        return value
    if unit == "F":
        return value * 9 / 5 - 32
    if unit == "K":
        return value + 273.15
    raise UnknownUnit(unit)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert between two length units or two temperature units (C, F, K)."""
    if from_unit in LENGTH_IN_METRES and to_unit in LENGTH_IN_METRES:
        return value * LENGTH_IN_METRES[from_unit] / LENGTH_IN_METRES[to_unit]
    return round(_from_celsius(_to_celsius(value, from_unit), to_unit), 6)
