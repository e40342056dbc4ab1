import pytest

from numerals import from_roman, to_roman


@pytest.mark.parametrize("n, text", [(1, "I"), (4, "IV"), (9, "IX"), (14, "XIV"), (49, "XLIX")])
def test_small_numbers(n, text):
    assert to_roman(n) == text


def test_nineteen_ninety_four():
    assert to_roman(1994) == "MCMXCIV"


def test_four_hundred():
    assert to_roman(400) == "CD"


def test_copyright_year_round_trip():
    assert from_roman(to_roman(2024)) == 2024
    assert from_roman("MCMXCIX") == 1999


def test_rejects_non_canonical():
    with pytest.raises(ValueError):
        from_roman("IIII")


def test_range():
    with pytest.raises(ValueError):
        to_roman(0)
