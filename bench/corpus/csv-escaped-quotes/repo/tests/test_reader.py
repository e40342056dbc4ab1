import pytest

from minicsv import parse_line, read_records
from minicsv.reader import CSVError


def test_plain_fields():
    assert parse_line("a,b,c") == ["a", "b", "c"]


def test_quoted_separator():
    assert parse_line('"Smith, John",42') == ["Smith, John", "42"]


def test_doubled_quote_is_literal_quote():
    assert parse_line('"say ""hi""",x') == ['say "hi"', "x"]


def test_doubled_quote_mid_field():
    assert parse_line('"a""b",c') == ['a"b', "c"]


def test_empty_quoted_field():
    assert parse_line('"",b') == ["", "b"]


def test_unterminated_quote():
    with pytest.raises(CSVError):
        parse_line('"abc,d')


def test_records_with_quotes():
    text = 'name,quote\nAda,"""Hello"""\n'
    assert read_records(text) == [{"name": "Ada", "quote": '"Hello"'}]


def test_field_count_mismatch():
    with pytest.raises(CSVError, match="line 2"):
        read_records("a,b\n1\n")
