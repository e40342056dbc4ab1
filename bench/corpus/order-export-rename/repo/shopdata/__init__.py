from shopdata.models import Order

__all__ = ["Order"]
