from orders.machine import InvalidTransition, Order

__all__ = ["InvalidTransition", "Order"]
