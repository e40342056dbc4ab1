"""Read the end of service logs without loading whole files."""

from __future__ import annotations

from collections import deque
from pathlib import Path


def tail(path: Path, count: int = 10) -> list[str]:
    """The last ``count`` lines of the file, without their newlines."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return [line.rstrip("\n") for line in deque(fh, maxlen=count)]


def last_errors(path: Path, count: int = 5) -> list[str]:
    """The last ``count`` lines that mention ERROR."""
    found: deque[str] = deque(maxlen=count)
    with open(path, encoding="utf-8", errors="replace") as fh:
        for l in fh:
            if "ERROR" in l:
                found.append(l.rstrip("\n"))
    return list(found)
