"""Invoices with per-line quantities, a customer discount and VAT, all in Decimal."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class LineItem:
    description: str
    unit_price: Decimal
    quantity: int = 1

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class Invoice:
    customer: str
    vat_rate: Decimal = Decimal("0.20")
    discount_rate: Decimal = Decimal("0")
    lines: list[LineItem] = field(default_factory=list)

    def add(self, description: str, unit_price: str, quantity: int = 1) -> None:
        self.lines.append(LineItem(description, Decimal(unit_price), quantity))

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))

    @property
    def net(self) -> Decimal:
        """Subtotal after the customer discount, rounded to the cent."""
        return (self.subtotal * (1 + self.discount_rate)).quantize(CENT, ROUND_HALF_UP)

    @property
    def vat(self) -> Decimal:
        return (self.net * self.vat_rate).quantize(CENT, ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        return self.net + self.vat
