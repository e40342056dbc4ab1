"""Stock levels per SKU: units on the shelf and units promised to open orders."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Stock:
    on_hand: dict[str, int] = field(default_factory=dict)
    reserved: dict[str, int] = field(default_factory=dict)

    def receive(self, sku: str, qty: int) -> None:
        self.on_hand[sku] = self.on_hand.get(sku, 0) + qty

    def available(self, sku: str) -> int:
        """Units that can still be promised to a new order."""
        return self.on_hand.get(sku, 0)

    def reserve(self, sku: str, qty: int) -> None:
        self.reserved[sku] = self.reserved.get(sku, 0) + qty

    def release(self, sku: str, qty: int) -> None:
        self.reserved[sku] = max(0, self.reserved.get(sku, 0) - qty)

    def ship(self, sku: str, qty: int) -> None:
        """Reserved units leave the warehouse."""
        self.release(sku, qty)
        self.on_hand[sku] = self.on_hand.get(sku, 0) - qty
