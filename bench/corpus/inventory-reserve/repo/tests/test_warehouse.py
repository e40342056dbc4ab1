import pytest

from warehouse import OrderDesk, OutOfStock, Stock


def desk(qty: int = 5) -> OrderDesk:
    stock = Stock()
    stock.receive("lamp", qty)
    return OrderDesk(stock)


def test_place_and_ship():
    d = desk()
    order = d.place({"lamp": 3})
    d.ship(order)
    assert d.stock.on_hand["lamp"] == 2
    assert d.stock.available("lamp") == 2


def test_reserved_units_are_not_available():
    d = desk()
    d.place({"lamp": 3})
    assert d.stock.available("lamp") == 2


def test_cannot_oversell_across_orders():
    d = desk()
    d.place({"lamp": 3})
    with pytest.raises(OutOfStock):
        d.place({"lamp": 3})


def test_cancel_frees_stock():
    d = desk()
    order = d.place({"lamp": 4})
    d.cancel(order)
    d.place({"lamp": 5})


def test_unknown_sku():
    with pytest.raises(OutOfStock):
        desk().place({"sofa": 1})
