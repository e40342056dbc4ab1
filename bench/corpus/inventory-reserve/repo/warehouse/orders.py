"""Order intake: an order reserves stock when placed and consumes it when shipped."""

from __future__ import annotations

import itertools

from warehouse.stock import Stock


class OutOfStock(Exception):
    pass


class OrderDesk:
    def __init__(self, stock: Stock) -> None:
        self.stock = stock
        self.open: dict[int, dict[str, int]] = {}
        self._ids = itertools.count(1)

    def place(self, lines: dict[str, int]) -> int:
        short = {sku: qty for sku, qty in lines.items() if self.stock.on_hand.get(sku, 0) < qty}
        if short:
            raise OutOfStock(f"not enough stock for {sorted(short)}")
        for sku, qty in lines.items():
            self.stock.reserve(sku, qty)
        order_id = next(self._ids)
        self.open[order_id] = dict(lines)
        return order_id

    def cancel(self, order_id: int) -> None:
        for sku, qty in self.open.pop(order_id).items():
            self.stock.release(sku, qty)

    def ship(self, order_id: int) -> None:
        for sku, qty in self.open.pop(order_id).items():
            self.stock.ship(sku, qty)
