import pytest

from breaker import CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def boom():
    raise ConnectionError("down")


def fail(cb, times):
    for _ in range(times):
        with pytest.raises(ConnectionError):
            cb.call(boom)


def test_opens_after_threshold():
    cb = CircuitBreaker(threshold=2, clock=Clock())
    fail(cb, 2)
    with pytest.raises(CircuitOpen):
        cb.call(lambda: "ok")


def test_half_open_success_closes_and_forgets_failures():
    clock = Clock()
    cb = CircuitBreaker(threshold=2, cooldown=10, clock=clock)
    fail(cb, 2)
    clock.now = 11
    assert cb.call(lambda: "ok") == "ok"
    assert cb.state == "closed"
    fail(cb, 1)
    assert cb.state == "closed"


def test_intermittent_failures_do_not_accumulate():
    cb = CircuitBreaker(threshold=2, clock=Clock())
    fail(cb, 1)
    cb.call(lambda: "ok")
    fail(cb, 1)
    assert cb.state == "closed"


def test_half_open_failure_reopens():
    clock = Clock()
    cb = CircuitBreaker(threshold=1, cooldown=5, clock=clock)
    fail(cb, 1)
    clock.now = 6
    fail(cb, 1)
    assert cb.state == "open"
