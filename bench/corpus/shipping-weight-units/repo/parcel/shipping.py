"""Shipping quotes: a base fee per parcel plus a rate per started kilogram."""

from __future__ import annotations

import math
from decimal import Decimal

from parcel.catalog import Product

BASE_FEE = Decimal("4.90")
PER_KG = Decimal("1.20")
MAX_PARCEL_KG = 30


def parcel_weight_kg(items: list[tuple[Product, int]]) -> float:
    return sum(product.weight_g * qty for product, qty in items)


def quote(items: list[tuple[Product, int]]) -> Decimal:
    """Price to ship ``items`` (product, quantity) in as few parcels as possible."""
    weight = parcel_weight_kg(items)
    if weight <= 0:
        return Decimal("0.00")
    parcels = math.ceil(weight / MAX_PARCEL_KG)
    return BASE_FEE * parcels + PER_KG * math.ceil(weight)
