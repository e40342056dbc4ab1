"""Injected faults: the SDK's retries ride over 429/529/500 without sleeping; mid-stream errors raise."""

from __future__ import annotations

import anthropic
import pytest

from escalate.errors import ConfigError
from escalate.sim.faults import FaultPlan

HELLO = {"models": {"*": [{"content": "hello", "repeat": True}]}}
PARAMS = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


def with_faults(*faults: dict) -> dict:
    return {**HELLO, "faults": list(faults)}


def test_retries_ride_over_429_and_529(sim):
    sim.set_script(with_faults({"on_request": 1, "status": 429}, {"on_request": 2, "status": 529}))
    msg = sim.client(max_retries=2).messages.create(**PARAMS)
    assert msg.content[0].text == "hello"
    log = sim.messages_requests()
    assert [r["status"] for r in log] == [429, 529, 200]
    assert [r["headers"]["x-stainless-retry-count"] for r in log] == ["0", "1", "2"]
    assert log[0]["error"]["type"] == "rate_limit_error" and log[1]["error"]["type"] == "overloaded_error"
    assert log[0]["fault"] == [{"on_request": 1, "status": 429}] and log[2]["fault"] is None
    assert log[0]["cost_usd"] == 0 and log[2]["cost_usd"] > 0


def test_three_failures_exhaust_the_retries(sim):
    sim.set_script(with_faults({"on_request": [1, 2, 3], "status": 500}))
    with pytest.raises(anthropic.InternalServerError) as info:
        sim.client(max_retries=2).messages.create(**PARAMS)
    assert info.value.status_code == 500 and info.value.body["error"]["type"] == "api_error"
    assert len(sim.messages_requests()) == 3


def test_overloaded_maps_to_sdk_class(sim):
    sim.set_script(with_faults({"on_request": 1, "status": 529}))
    with pytest.raises(anthropic.OverloadedError):
        sim.client(max_retries=0).messages.create(**PARAMS)


def test_mid_stream_error_is_raised_by_the_sdk(sim):
    sim.set_script(with_faults({"on_request": 1, "stream_error": "overloaded_error"}))
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        with sim.client().messages.stream(**PARAMS) as stream:
            stream.get_final_message()
    record = sim.messages_requests()[0]
    assert (
        record["status"] == 200 and record["stream_error"] == "overloaded_error" and record["cost_usd"] == 0
    )
    with sim.client().messages.stream(**PARAMS) as stream:  # the next request streams normally
        assert stream.get_final_message().content[0].text == "hello"


def test_stream_error_on_a_plain_request_is_its_status(sim):
    sim.set_script(with_faults({"on_request": 1, "stream_error": "overloaded_error"}))
    with pytest.raises(anthropic.OverloadedError):
        sim.client(max_retries=0).messages.create(**PARAMS)


def test_delay_still_answers(sim):
    sim.set_script(with_faults({"on_request": 1, "delay_s": 0.05}))
    assert sim.client().messages.create(**PARAMS).content[0].text == "hello"
    assert sim.messages_requests()[0]["fault"] == [{"on_request": 1, "delay_s": 0.05}]


def test_seeded_probability_is_deterministic_and_near_its_rate():
    def fired(seed: int) -> list[int]:
        plan = FaultPlan([{"probability": 0.2, "seed": seed, "status": 529}])
        return [n for n in range(1, 1001) if plan.draw(n, "claude-haiku-4-5")]

    assert fired(7) == fired(7) != fired(8)
    assert 150 < len(fired(7)) < 250


def test_model_filter_and_bad_specs():
    plan = FaultPlan([{"on_request": [1, 2], "status": 429, "model": "claude-opus-4-6"}])
    assert plan.draw(1, "claude-haiku-4-5") == []  # another model's request 1: not this fault
    [fault] = plan.draw(2, "claude-opus-4-6")
    assert (fault.status, fault.model, fault.on_request) == (429, "claude-opus-4-6", frozenset({1, 2}))
    assert plan.draw(3, "claude-opus-4-6") == []  # outside on_request
    with pytest.raises(ConfigError, match="needs `on_request"):
        FaultPlan([{"status": 429}])
    with pytest.raises(ConfigError, match="status must be one of"):
        FaultPlan([{"on_request": 1, "status": 418}])
    with pytest.raises(ConfigError, match="unknown keys"):
        FaultPlan([{"on_request": 1, "status": 429, "sometimes": True}])


def test_retry_after_header_can_be_dropped(sim):
    sim.set_script(
        with_faults({"on_request": 1, "status": 429, "retry_after_ms": None, "should_retry": False})
    )
    with pytest.raises(anthropic.RateLimitError) as info:
        sim.client(max_retries=2).messages.create(**PARAMS)
    assert "retry-after-ms" not in info.value.response.headers
    assert len(sim.messages_requests()) == 1  # x-should-retry: false stops the SDK


def test_streams_are_retried_too(sim):
    sim.set_script(with_faults({"on_request": 1, "status": 529}))
    with sim.client(max_retries=2).messages.stream(**PARAMS) as stream:
        assert stream.get_final_message().content[0].text == "hello"
    assert [r["status"] for r in sim.messages_requests()] == [529, 200]
