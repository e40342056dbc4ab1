from datetime import date, datetime, timezone
from decimal import Decimal

from shopdata import Order
from shopdata.export import to_csv
from shopdata.filters import by_status, in_period


def order(n: int, day: int, status: str = "paid") -> Order:
    placed = datetime(2024, 6, day, 12, 0, tzinfo=timezone.utc)
    return Order(f"SO-{n}", f"cust{n}", Decimal("10") * n, placed, status)


ORDERS = [order(1, 3), order(2, 1), order(3, 20, "refunded")]


def test_by_status():
    assert [o.number for o in by_status(ORDERS, "refunded")] == ["SO-3"]


def test_in_period_sorted_oldest_first():
    chosen = in_period(ORDERS, date(2024, 6, 1), date(2024, 6, 10))
    assert [o.number for o in chosen] == ["SO-2", "SO-1"]


def test_csv_export():
    lines = to_csv(ORDERS[:1]).splitlines()
    assert lines[0] == "number,customer,total,placed_at,status"
    assert lines[1] == "SO-1,cust1,10.00,2024-06-03T12:00:00+00:00,paid"
