from shop.cart import Cart


def test_total_without_discount():
    cart = Cart()
    cart.add("mug", 8.5, qty=2)
    cart.add("tea", 4.0)
    assert cart.total() == 21.0
