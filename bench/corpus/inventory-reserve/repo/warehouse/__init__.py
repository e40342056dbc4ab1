from warehouse.orders import OrderDesk, OutOfStock
from warehouse.stock import Stock

__all__ = ["OrderDesk", "OutOfStock", "Stock"]
