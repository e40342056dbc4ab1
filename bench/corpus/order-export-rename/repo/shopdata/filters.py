"""Selections of orders for reports."""

from __future__ import annotations

from datetime import date
from typing import Iterable

from shopdata.models import Order


def in_period(orders: Iterable[Order], start: date, end: date) -> list[Order]:
    """Orders placed between ``start`` and ``end`` inclusive, oldest first."""
    chosen = [o for o in orders if start <= o.created.date() <= end]
    return sorted(chosen, key=lambda o: o.created)


def by_status(orders: Iterable[Order], status: str) -> list[Order]:
    return [o for o in orders if o.status == status]
