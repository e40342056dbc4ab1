"""Semantic versions (MAJOR.MINOR.PATCH[-pre]) for the plugin update checker."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

PATTERN = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.]+))?$")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        m = PATTERN.match(text.strip().lstrip("v"))
        if not m:
            raise ValueError(f"not a semantic version: {text!r}")
        return cls(int(m[1]), int(m[2]), int(m[3]), m[4] or "")

    def __lt__(self, other: Version) -> bool:
        if (self.major, self.minor, self.patch) != (other.major, other.minor, other.patch):
            return (self.major, self.minor, self.patch) < (other.major, other.minor, other.patch)
        # A pre-release sorts before its release: 1.0.0-rc.1 < 1.0.0.
        if self.pre and other.pre:
            return self.pre < other.pre
        return bool(other.pre) and not self.pre

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}" + (f"-{self.pre}" if self.pre else "")


def latest(versions: list[str], include_pre: bool = False) -> str:
    parsed = [Version.parse(v) for v in versions]
    if not include_pre:
        parsed = [v for v in parsed if not v.pre]
    if not parsed:
        raise ValueError("no eligible versions")
    return str(max(parsed))
