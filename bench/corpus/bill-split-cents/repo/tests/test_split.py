import pytest

from splitwise import split_by_weight, split_evenly


def test_even_split_exact():
    assert split_evenly(900, ["ann", "bob", "cy"]) == {"ann": 300, "bob": 300, "cy": 300}


def test_even_split_adds_up():
    shares = split_evenly(1000, ["ann", "bob", "cy"])
    assert sum(shares.values()) == 1000
    assert shares == {"ann": 334, "bob": 333, "cy": 333}


def test_leftover_goes_to_largest_remainder():
    shares = split_by_weight(1000, {"ann": 1, "bob": 2, "cy": 3})
    assert shares == {"ann": 167, "bob": 333, "cy": 500}


def test_never_overcharges():
    shares = split_evenly(200, ["a", "b", "c"])
    assert sum(shares.values()) == 200
    assert shares == {"a": 67, "b": 67, "c": 66}


def test_rejects_zero_weight():
    with pytest.raises(ValueError):
        split_by_weight(100, {"a": 0})
