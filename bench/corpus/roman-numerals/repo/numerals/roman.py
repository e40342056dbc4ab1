"""Roman numerals for chapter headings and copyright years."""

from __future__ import annotations

SYMBOLS = [
    (1000, "M"),
    (500, "D"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
]
VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def to_roman(number: int) -> str:
    if not 0 < number < 4000:
        raise ValueError("roman numerals cover 1..3999")
    out = []
    for value, symbol in SYMBOLS:
        while number >= value:
            out.append(symbol)
            number -= value
    return "".join(out)


def from_roman(text: str) -> int:
    total = 0
    prev = 0
    for ch in reversed(text.upper()):
        value = VALUES[ch]
        total = total - value if value < prev else total + value
        prev = max(prev, value)
    if to_roman(total) != text.upper():
        raise ValueError(f"not a canonical roman numeral: {text!r}")
    return total
