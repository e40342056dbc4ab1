"""Human-friendly durations ("1h30m", "45s") for job schedules."""

from __future__ import annotations

import re

UNITS = {"h": 3600, "m": 60, "s": 1}
PART = re.compile(r"(\d+)([hms])")


def parse_duration(text: str) -> int:
    """Seconds in a duration like "1h30m"; units may appear once each, largest first."""
    text = text.strip().lower()
    pos = 0
    total = 0
    seen: list[str] = []
    for m in PART.finditer(text):
        if m.start() != pos:
            break
        unit = m.group(2)
        if unit in seen or (seen and UNITS[seen[-1]] < UNITS[unit]):
            raise ValueError(f"units out of order in {text!r}")
        seen.append(unit)
        total += int(m.group(1)) * UNITS[unit]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"not a duration: {text!r}")
    return total


def format_duration(seconds: int) -> str:
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
