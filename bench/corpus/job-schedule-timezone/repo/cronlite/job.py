"""A recurring job. ``next_run`` is a timezone-aware datetime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Job:
    name: str
    every: timedelta
    next_run: datetime
