"""Displayed prices per currency, cached because the shop pages ask for them constantly."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pricebook.db import ProductDB

RATES = {"EUR": Decimal("1"), "USD": Decimal("1.08"), "GBP": Decimal("0.85")}


class PriceCache:
    def __init__(self, db: ProductDB) -> None:
        self.db = db
        self._prices: dict[object, Decimal] = {}

    def price(self, sku: str, currency: str = "EUR") -> Decimal:
        if sku not in self._prices:
            base = self.db.get(sku).base_price_eur
            self._prices[sku] = (base * RATES[currency]).quantize(Decimal("0.01"), ROUND_HALF_UP)
        return self._prices[sku]

    def invalidate(self, sku: str) -> None:
        """Forget every cached price of ``sku``."""
        self._prices.pop(sku, None)
