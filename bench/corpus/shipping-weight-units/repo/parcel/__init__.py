from parcel.catalog import Product
from parcel.shipping import quote

__all__ = ["Product", "quote"]
