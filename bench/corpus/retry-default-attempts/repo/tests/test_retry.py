import pytest

from resilient import retry


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("reset by peer")
        return "ok"


def test_default_survives_two_failures():
    pauses = []
    flaky = Flaky(failures=2)
    assert retry(sleep=pauses.append)(flaky)() == "ok"
    assert flaky.calls == 3
    assert pauses == [0.5, 1.0]


def test_default_gives_up_after_three_calls():
    flaky = Flaky(failures=5)
    with pytest.raises(ConnectionError):
        retry(sleep=lambda s: None)(flaky)()
    assert flaky.calls == 3


def test_explicit_attempts():
    flaky = Flaky(failures=1)
    with pytest.raises(ConnectionError):
        retry(attempts=1, sleep=lambda s: None)(flaky)()
    assert flaky.calls == 1


def test_other_errors_are_not_retried():
    calls = []

    @retry(sleep=lambda s: None)
    def broken():
        calls.append(1)
        raise KeyError("x")

    with pytest.raises(KeyError):
        broken()
    assert len(calls) == 1
