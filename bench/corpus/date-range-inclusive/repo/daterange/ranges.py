"""Closed date ranges for booking and reporting periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterator


@dataclass(frozen=True)
class DateRange:
    """A range of days including both ``start`` and ``end``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")

    def __len__(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    def days(self) -> Iterator[date]:
        for offset in range((self.end - self.start).days):
            yield self.start + timedelta(days=offset)

    def overlaps(self, other: DateRange) -> bool:
        return self.start <= other.end and other.start <= self.end


def business_days(period: DateRange) -> int:
    """Weekdays (Mon-Fri) in the period."""
    return sum(1 for day in period.days() if day.weekday() < 5)
