"""Prompt-cache emulation: writes, reads, TTLs on the sim clock, minimum length, lookback, TTL mix."""

from __future__ import annotations

import pytest
from samplerepo import EDITOR_TOOL

LONG = "You are a careful Python maintainer. " * 600  # ~5,400 tokens: above every model's minimum


def cached_system(ttl: str = "5m") -> list[dict]:
    return [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral", "ttl": ttl}}]


def ask(sim, model: str = "claude-haiku-4-5", **kw):
    params = {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": "fix calc.py"}]}
    return sim.client().messages.create(**{**params, **kw})


def totals(usage) -> int:
    return usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens


def test_write_then_read_then_miss_after_ttl(sim):
    first = ask(sim, system=cached_system(), tools=[EDITOR_TOOL])
    u = first.usage
    assert u.cache_creation_input_tokens > 4096 and u.cache_read_input_tokens == 0
    assert u.cache_creation.ephemeral_5m_input_tokens == u.cache_creation_input_tokens
    assert u.cache_creation.ephemeral_1h_input_tokens == 0
    assert 0 < u.input_tokens < 50  # only the user message follows the breakpoint
    second = ask(sim, system=cached_system(), tools=[EDITOR_TOOL]).usage
    assert second.cache_read_input_tokens == u.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0 and second.input_tokens == u.input_tokens
    sim.clock.advance(299)  # a hit refreshes the entry: still alive 299 s after the last use
    assert ask(sim, system=cached_system(), tools=[EDITOR_TOOL]).usage.cache_read_input_tokens > 0
    sim.clock.advance(301)
    third = ask(sim, system=cached_system(), tools=[EDITOR_TOOL]).usage
    assert (
        third.cache_read_input_tokens == 0
        and third.cache_creation_input_tokens == u.cache_creation_input_tokens
    )
    count = sim.client().messages.count_tokens(
        model="claude-haiku-4-5",
        system=cached_system(),
        tools=[EDITOR_TOOL],
        messages=[{"role": "user", "content": "fix calc.py"}],
    )
    assert count.input_tokens == totals(first.usage) == totals(third)


def test_one_hour_ttl_outlives_five_minutes(sim):
    ask(sim, system=cached_system("1h"))
    sim.clock.advance(1800)
    hit = ask(sim, system=cached_system("1h")).usage
    assert hit.cache_read_input_tokens > 0
    sim.clock.advance(3601)
    miss = ask(sim, system=cached_system("1h")).usage
    assert miss.cache_read_input_tokens == 0 and miss.cache_creation.ephemeral_1h_input_tokens > 0


def test_below_minimum_nothing_is_cached_and_no_error(sim):
    system = [
        {"type": "text", "text": "short " * 2000, "cache_control": {"type": "ephemeral"}}
    ]  # ~3,000 tokens
    for _ in range(2):
        u = ask(sim, system=system).usage  # haiku 4.5 needs 4,096
        assert u.cache_creation_input_tokens == 0 and u.cache_read_input_tokens == 0
    u = ask(sim, model="claude-sonnet-4-6", system=system).usage  # sonnet 4.6 needs 1,024
    assert u.cache_creation_input_tokens > 1024


def test_mixed_ttls_break_down_and_sum(sim):
    messages = [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "context " * 800,
                    "cache_control": {"type": "ephemeral", "ttl": "5m"},
                },
                {"type": "text", "text": "now fix calc.py"},
            ],
        }
    ]
    u = ask(sim, model="claude-sonnet-4-6", system=cached_system("1h"), messages=messages).usage
    assert u.cache_creation.ephemeral_1h_input_tokens > 5000
    assert 1000 < u.cache_creation.ephemeral_5m_input_tokens < 2000
    assert u.cache_creation_input_tokens == (
        u.cache_creation.ephemeral_1h_input_tokens + u.cache_creation.ephemeral_5m_input_tokens
    )
    log = sim.messages_requests()[-1]
    assert (
        log["usage"]["cache_creation"]["ephemeral_1h_input_tokens"]
        == u.cache_creation.ephemeral_1h_input_tokens
    )


def test_automatic_caching_follows_the_conversation(sim):
    history = [{"role": "user", "content": LONG}]
    first = ask(sim, model="claude-sonnet-4-6", messages=history, cache_control={"type": "ephemeral"}).usage
    assert first.cache_creation_input_tokens > 5000 and first.input_tokens == 0
    history += [{"role": "assistant", "content": "Looking."}, {"role": "user", "content": "Go on."}]
    second = ask(sim, model="claude-sonnet-4-6", messages=history, cache_control={"type": "ephemeral"}).usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert 0 < second.cache_creation_input_tokens < 20 and second.input_tokens == 0


def test_lookback_is_twenty_blocks(sim):
    def convo(extra: int) -> list[dict]:
        blocks = [{"type": "text", "text": LONG}] + [
            {"type": "text", "text": f"note {i}"} for i in range(extra)
        ]
        blocks[-1] = {**blocks[-1], "cache_control": {"type": "ephemeral"}}
        return [{"role": "user", "content": blocks}]

    base = ask(sim, model="claude-sonnet-4-6", messages=convo(1)).usage.cache_creation_input_tokens
    near = ask(sim, model="claude-sonnet-4-6", messages=convo(21)).usage  # 20 blocks later: found
    assert near.cache_read_input_tokens == base
    sim.sim.cache.clear()
    ask(sim, model="claude-sonnet-4-6", messages=convo(1))
    far = ask(sim, model="claude-sonnet-4-6", messages=convo(23)).usage  # 22 blocks later: out of reach
    assert far.cache_read_input_tokens == 0


@pytest.mark.parametrize("change", [{"output_config": {"effort": "low"}}, {"tool_choice": {"type": "none"}}])
def test_effort_or_tool_choice_change_invalidates_messages_only(sim, change):
    messages = [
        {"role": "user", "content": [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]}
    ]
    params = {
        "model": "claude-sonnet-4-6",
        "system": cached_system(),
        "messages": messages,
        "tools": [EDITOR_TOOL],
    }
    first = ask(sim, **params).usage
    changed = ask(sim, **params, **change).usage
    assert 0 < changed.cache_read_input_tokens < first.cache_creation_input_tokens  # system level still hits
    assert (
        changed.cache_creation_input_tokens
        == first.cache_creation_input_tokens - changed.cache_read_input_tokens
    )


def test_cache_is_per_model(sim):
    ask(sim, model="claude-sonnet-4-6", system=cached_system())
    other = ask(sim, model="claude-opus-4-6", system=cached_system()).usage
    assert other.cache_read_input_tokens == 0 and other.cache_creation_input_tokens > 0
