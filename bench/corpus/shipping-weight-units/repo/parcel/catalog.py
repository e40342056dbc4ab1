"""Products as exported by the supplier feed (weights in grams)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    weight_g: int

    @classmethod
    def from_feed(cls, row: dict[str, str]) -> Product:
        return cls(sku=row["sku"], name=row["name"], weight_g=int(row["weight"]))
