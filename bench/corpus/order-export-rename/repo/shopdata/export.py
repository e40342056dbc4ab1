"""CSV export of orders for the accounting team."""

from __future__ import annotations

import csv
import io
from typing import Iterable

from shopdata.models import Order

COLUMNS = ["number", "customer", "total", "placed_at", "status"]


def to_csv(orders: Iterable[Order]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for o in orders:
        writer.writerow([o.number, o.customer, f"{o.total:.2f}", o.created.isoformat(), o.status])
    return buf.getvalue()
