"""The product table (in memory here; Postgres in production)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass
class Product:
    id: int
    sku: str
    base_price_eur: Decimal


class ProductDB:
    def __init__(self, products: list[Product]) -> None:
        self._by_sku = {p.sku: p for p in products}
        self.reads = 0

    def get(self, sku: str) -> Product:
        self.reads += 1
        return self._by_sku[sku]
