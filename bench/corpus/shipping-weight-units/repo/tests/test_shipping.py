from decimal import Decimal

from parcel import Product, quote
from parcel.shipping import parcel_weight_kg

KETTLE = Product.from_feed({"sku": "K1", "name": "Kettle", "weight": "1500"})
ANVIL = Product.from_feed({"sku": "A9", "name": "Anvil", "weight": "20000"})


def test_feed_weights_are_grams():
    assert KETTLE.weight_g == 1500


def test_empty_order_is_free():
    assert quote([]) == Decimal("0.00")


def test_weight_in_kilograms():
    assert parcel_weight_kg([(KETTLE, 2)]) == 3.0


def test_single_parcel_quote():
    # 1.5 kg -> one parcel, two started kilograms
    assert quote([(KETTLE, 1)]) == Decimal("7.30")


def test_heavy_order_needs_two_parcels():
    # 40 kg -> two parcels
    assert quote([(ANVIL, 2)]) == Decimal("57.80")
