"""A shopping cart whose total is cached, because pricing rules are slow to evaluate."""

from __future__ import annotations

from decimal import Decimal


class Cart:
    def __init__(self, prices: dict[str, Decimal]) -> None:
        self._prices = prices
        self._qty: dict[str, int] = {}
        self._total: Decimal | None = None

    def add(self, sku: str, qty: int = 1) -> None:
        if sku not in self._prices:
            raise KeyError(f"unknown SKU {sku}")
        self._qty[sku] = self._qty.get(sku, 0) + qty
        self._total = None

    def remove(self, sku: str, qty: int | None = None) -> None:
        """Remove ``qty`` units of ``sku`` (all of them when ``qty`` is None)."""
        left = 0 if qty is None else self._qty.get(sku, 0) - qty
        if left > 0:
            self._qty[sku] = left
        else:
            self._qty.pop(sku, None)

    def total(self) -> Decimal:
        if self._total is None:
            self._total = sum(
                (self._prices[sku] * qty for sku, qty in self._qty.items()), Decimal("0")
            )
        return self._total

    def count(self) -> int:
        return sum(self._qty.values())
