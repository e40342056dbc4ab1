"""Back-office price changes."""

from __future__ import annotations

from decimal import Decimal

from pricebook.cache import PriceCache
from pricebook.db import ProductDB


class PriceAdmin:
    def __init__(self, db: ProductDB, cache: PriceCache) -> None:
        self.db = db
        self.cache = cache

    def set_price(self, sku: str, new_price_eur: str) -> None:
        product = self.db.get(sku)
        product.base_price_eur = Decimal(new_price_eur)
        self.cache.invalidate(product.id)
