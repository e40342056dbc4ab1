from datetime import date

import pytest

from daterange import DateRange, business_days


def test_length_counts_both_ends():
    assert len(DateRange(date(2024, 3, 1), date(2024, 3, 3))) == 3


def test_days_includes_end():
    r = DateRange(date(2024, 3, 1), date(2024, 3, 3))
    assert list(r.days()) == [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)]


def test_single_day_range():
    r = DateRange(date(2024, 5, 6), date(2024, 5, 6))
    assert list(r.days()) == [date(2024, 5, 6)]


def test_business_days_full_week():
    # Monday 2024-05-06 to Sunday 2024-05-12
    assert business_days(DateRange(date(2024, 5, 6), date(2024, 5, 12))) == 5


def test_business_days_ending_on_friday():
    assert business_days(DateRange(date(2024, 5, 6), date(2024, 5, 10))) == 5


def test_rejects_reversed():
    with pytest.raises(ValueError):
        DateRange(date(2024, 1, 2), date(2024, 1, 1))


def test_overlaps_on_shared_day():
    a = DateRange(date(2024, 1, 1), date(2024, 1, 5))
    assert a.overlaps(DateRange(date(2024, 1, 5), date(2024, 1, 9)))
