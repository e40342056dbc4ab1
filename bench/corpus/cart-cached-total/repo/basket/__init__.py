from basket.cart import Cart

__all__ = ["Cart"]
