from decimal import Decimal

from pricebook import PriceAdmin, PriceCache, Product, ProductDB


def setup():
    db = ProductDB([Product(7, "MUG-01", Decimal("10.00")), Product(8, "TEE-02", Decimal("20.00"))])
    cache = PriceCache(db)
    return db, cache, PriceAdmin(db, cache)


def test_cached_after_first_read():
    db, cache, _ = setup()
    assert cache.price("MUG-01") == Decimal("10.00")
    cache.price("MUG-01")
    assert db.reads == 1


def test_prices_per_currency():
    _, cache, _ = setup()
    assert cache.price("MUG-01", "EUR") == Decimal("10.00")
    assert cache.price("MUG-01", "USD") == Decimal("10.80")
    assert cache.price("MUG-01", "GBP") == Decimal("8.50")


def test_price_change_shows_up_in_every_currency():
    _, cache, admin = setup()
    cache.price("TEE-02", "EUR")
    cache.price("TEE-02", "USD")
    admin.set_price("TEE-02", "25.00")
    assert cache.price("TEE-02", "EUR") == Decimal("25.00")
    assert cache.price("TEE-02", "USD") == Decimal("27.00")


def test_other_products_stay_cached():
    db, cache, admin = setup()
    cache.price("MUG-01")
    admin.set_price("TEE-02", "25.00")
    reads = db.reads
    cache.price("MUG-01")
    assert db.reads == reads
