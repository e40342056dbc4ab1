from decimal import Decimal

import pytest

PRICES = {"tea": Decimal("4.50"), "mug": Decimal("9.00")}


@pytest.fixture
def cart():
    from basket import Cart

    c = Cart(PRICES)
    c.add("tea", 2)
    c.add("mug")
    return c


def test_total(cart):
    assert cart.total() == Decimal("18.00")


def test_total_after_add(cart):
    cart.total()
    cart.add("tea")
    assert cart.total() == Decimal("22.50")


def test_total_after_remove(cart):
    assert cart.total() == Decimal("18.00")
    cart.remove("mug")
    assert cart.total() == Decimal("9.00")
    assert cart.count() == 2


def test_partial_remove(cart):
    cart.total()
    cart.remove("tea", 1)
    assert cart.total() == Decimal("13.50")
