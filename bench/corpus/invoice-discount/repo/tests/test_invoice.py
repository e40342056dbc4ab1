from decimal import Decimal

from invoicing import Invoice


def make() -> Invoice:
    inv = Invoice("ACME")
    inv.add("Widget", "12.50", 4)
    inv.add("Support hour", "80.00")
    return inv


def test_subtotal():
    assert make().subtotal == Decimal("130.00")


def test_no_discount_total():
    assert make().total == Decimal("156.00")


def test_discount_reduces_net():
    inv = make()
    inv.discount_rate = Decimal("0.10")
    assert inv.net == Decimal("117.00")


def test_discounted_total_includes_vat():
    inv = make()
    inv.discount_rate = Decimal("0.15")
    assert inv.net == Decimal("110.50")
    assert inv.total == Decimal("132.60")
