from hooks.delivery import DeliveryFailed, deliver

__all__ = ["DeliveryFailed", "deliver"]
