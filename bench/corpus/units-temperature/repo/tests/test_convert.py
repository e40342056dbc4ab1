import pytest

from units import UnknownUnit, convert


def test_lengths():
    assert convert(5, "km", "m") == 5000
    assert convert(1, "mi", "ft") == pytest.approx(5280)


def test_fahrenheit_to_celsius():
    assert convert(212, "F", "C") == 100


def test_celsius_to_fahrenheit():
    assert convert(100, "C", "F") == 212
    assert convert(-40, "C", "F") == -40


def test_kelvin_to_fahrenheit():
    assert convert(273.15, "K", "F") == 32


def test_round_trip():
    assert convert(convert(21.5, "C", "F"), "F", "C") == 21.5


def test_unknown_unit():
    with pytest.raises(UnknownUnit):
        convert(1, "C", "parsec")
