from pricebook.admin import PriceAdmin
from pricebook.cache import PriceCache
from pricebook.db import Product, ProductDB

__all__ = ["PriceAdmin", "PriceCache", "Product", "ProductDB"]
