import pytest

from telemetry import RingBuffer


def test_partial_fill_keeps_order():
    rb = RingBuffer(4)
    for v in (1, 2):
        rb.push(v)
    assert rb.values() == [1, 2]


def test_overwrites_oldest_when_full():
    rb = RingBuffer(3)
    for v in (1, 2, 3, 4, 5):
        rb.push(v)
    assert rb.values() == [3, 4, 5]
    assert len(rb) == 3


def test_exactly_full():
    rb = RingBuffer(3)
    for v in (1, 2, 3):
        rb.push(v)
    assert rb.values() == [1, 2, 3]


def test_capacity_one():
    rb = RingBuffer(1)
    rb.push(1)
    rb.push(2)
    assert rb.values() == [2]


def test_mean_of_recent_window():
    rb = RingBuffer(2)
    for v in (10, 20, 30):
        rb.push(v)
    assert rb.mean() == 25


def test_mean_empty():
    with pytest.raises(ValueError):
        RingBuffer(2).mean()
