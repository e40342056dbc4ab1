"""Seeded draws the oracle makes: stable across runs, processes and platforms (no global RNG)."""

from __future__ import annotations

import hashlib


def unit(*parts: object) -> float:
    """A uniform number in (0, 1) from the parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64


def between(low: int, high: int, *parts: object) -> int:
    """A uniform integer in [low, high] from the parts."""
    return low + min(int(unit(*parts) * (high - low + 1)), high - low)
