import pytest

from shop.pricing import apply_discount


def test_ten_percent_off():
    assert apply_discount(80.0, 10) == 72.0


def test_quarter_off_rounds_to_cents():
    assert apply_discount(19.99, 25) == 14.99


def test_rejects_discounts_over_100():
    with pytest.raises(ValueError):
        apply_discount(10.0, 150)
