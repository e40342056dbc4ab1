import pytest

from orders import InvalidTransition, Order


def test_happy_path():
    order = Order("A-1")
    for state in ("paid", "shipped", "delivered"):
        order.advance(state)
    assert order.state == "delivered" and order.is_final
    assert order.history[-3:] == [("new", "paid"), ("paid", "shipped"), ("shipped", "delivered")]


def test_cannot_ship_unpaid():
    with pytest.raises(InvalidTransition):
        Order("A-2").advance("shipped")


def test_history_is_per_order():
    first, second = Order("B-1"), Order("B-2")
    first.advance("paid")
    second.advance("cancelled")
    assert first.history == [("new", "paid")]
    assert second.history == [("new", "cancelled")]


def test_new_order_has_empty_history():
    Order("C-1").advance("paid")
    assert Order("C-2").history == []
