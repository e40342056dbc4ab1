import pytest

from hooks import DeliveryFailed, deliver


class Endpoint:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, url, payload):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_success_first_time():
    assert deliver(Endpoint([200]), "https://h.test", {}) == 200


def test_retries_server_errors():
    ep = Endpoint([503, ConnectionError("reset"), 202])
    assert deliver(ep, "https://h.test", {}) == 202
    assert ep.calls == 3


def test_client_error_is_final():
    ep = Endpoint([404, 200])
    assert deliver(ep, "https://h.test", {}) == 404
    assert ep.calls == 1


def test_gives_up_with_every_error():
    ep = Endpoint([ConnectionError("a"), 500, ConnectionError("c")])
    with pytest.raises(DeliveryFailed) as info:
        deliver(ep, "https://h.test/hook", {"id": 1})
    assert len(info.value.attempts) == 3
    assert "https://h.test/hook" in str(info.value)


def test_zero_attempts_rejected():
    with pytest.raises(ValueError):
        deliver(Endpoint([]), "https://h.test", {}, attempts=0)
