"""Order records. ``placed_at`` replaced ``created`` in 2.0 (the time the customer paid, in UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class Order:
    number: str
    customer: str
    total: Decimal
    placed_at: datetime
    status: str = "paid"
