"""Models API and count_tokens of the simulated API, parsed by the real SDK."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import pytest

from escalate.sim.catalogue import SimCatalogue
from escalate.sim.tokens import TEXT_EDITOR_TOKENS

REQUIRED = [
    "claude-haiku-4-5",
    "claude-sonnet-4-5",
    "claude-sonnet-4-6",
    "claude-opus-4-6",
    "claude-haiku-5-5",
    "claude-sonnet-5-5",
    "claude-opus-5-5",
]


def test_catalogue_has_the_required_models_with_prices():
    catalogue = SimCatalogue.load()
    for model_id in REQUIRED:
        model = catalogue.get(model_id)
        assert model is not None and model.price_tiers, model_id


def test_retrieve_gives_full_capabilities(sim):
    client = sim.client()
    opus = client.models.retrieve("claude-opus-5-5")
    assert opus.line == "opus" and opus.lifecycle == "active"
    assert opus.max_input_tokens == 1_000_000 and opus.max_tokens == 128_000
    caps = opus.capabilities
    assert caps.effort.supported and caps.effort.xhigh.supported and caps.effort.max.supported
    assert caps.thinking.types.adaptive.supported and not caps.thinking.types.enabled.supported
    assert not caps.thinking.types.disabled.supported and caps.batch.supported
    haiku = client.models.retrieve("claude-haiku-4-5").capabilities
    assert not haiku.effort.supported and not haiku.effort.low.supported
    assert haiku.thinking.types.enabled.supported and not haiku.thinking.types.adaptive.supported
    sonnet45 = client.models.retrieve("claude-sonnet-4-5")
    assert sonnet45.lifecycle == "deprecated" and sonnet45.retires_at is not None
    assert client.models.retrieve("claude-sonnet-5-5").capabilities.thinking.types.between_tools.supported


def test_retrieve_unknown_is_404(sim):
    with pytest.raises(anthropic.NotFoundError, match="claude-gpt"):
        sim.client().models.retrieve("claude-gpt")


def test_list_pages_with_cursor_fields(sim):
    client = sim.client()
    first = client.models.list(limit=5)
    assert len(first.data) == 5 and first.has_more and first.last_id == first.data[-1].id
    everything = [m.id for m in client.models.list(limit=5)]  # auto-pagination follows after_id
    assert set(REQUIRED) <= set(everything) and len(everything) == len(set(everything))
    created = [m.created_at for m in client.models.list(limit=100).data]
    assert created == sorted(created, reverse=True)  # newest first
    back = client.models.list(limit=2, before_id=first.data[3].id)
    assert [m.id for m in back.data] == [first.data[1].id, first.data[2].id]


def test_list_lifecycle_filter(sim):
    client = sim.client()
    active = client.models.list(limit=100, extra_query={"lifecycle[]": "active"}).data
    assert active and all(m.lifecycle == "active" for m in active)
    assert "claude-sonnet-4-5" not in {m.id for m in active}
    every = {m.id for m in client.models.list(limit=100).data}
    assert "claude-sonnet-4-5" in every


def test_count_tokens_follows_the_documented_estimate(sim):
    client = sim.client()
    text = "x" * 400  # 400 bytes -> 100 tokens
    plain = client.messages.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": text}]
    )
    assert plain.input_tokens == 100 + 4 + 2  # text + per-message + per-block overheads
    with_tool = client.messages.count_tokens(
        model="claude-sonnet-4-6",
        messages=[{"role": "user", "content": text}],
        tools=[{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}],
    )
    assert with_tool.input_tokens == plain.input_tokens + TEXT_EDITOR_TOKENS
    newer = client.messages.count_tokens(
        model="claude-opus-4-7", messages=[{"role": "user", "content": text}]
    )
    assert newer.input_tokens == 130 + 4 + 2  # the newer tokenizer yields ~30% more tokens
    reply = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": text}]
    )
    assert reply.usage.input_tokens == plain.input_tokens
    assert sim.requests[0]["path"] == "/v1/messages/count_tokens" and sim.requests[0]["cost_usd"] == 0


def test_haiku_5_5_long_prompts_cost_the_second_tier():
    model = SimCatalogue.load().get("claude-haiku-5-5")
    short = model.charge({"input_tokens": 100_000, "output_tokens": 0})
    long = model.charge({"input_tokens": 100_001, "output_tokens": 0})
    assert short == Decimal("0.01") and float(long) == pytest.approx(100_001 * 0.5 / 1e6)
    batch = model.charge({"input_tokens": 1000, "output_tokens": 1000}, batch=True)
    assert float(batch) == pytest.approx((1000 * 0.10 + 1000 * 0.50) / 1e6 / 2)


def test_sim_catalogue_agrees_with_escalates_own_tables():
    """The runner's price and model tables must match the (simulated) API they are billed by."""
    from importlib import resources

    import yaml

    data = resources.files("escalate.data")
    prices = yaml.safe_load(data.joinpath("prices.yml").read_text())["models"]
    models = yaml.safe_load(data.joinpath("models.yml").read_text())["models"]
    sim = SimCatalogue.load()
    assert set(models) == {m.id for m in sim.models}
    for model in sim.models:
        rows = prices[model.id].get("tiers") or [prices[model.id]]
        for row, tier in zip(rows, model.price_tiers, strict=True):
            for key in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"):
                assert Decimal(str(row[key])) == getattr(tier, key), (model.id, key)
        spec = models[model.id]
        assert sorted(spec["thinking"]) == sorted(model.thinking), model.id
        assert sorted(spec["effort"]) == sorted(model.effort), model.id
        assert (spec["min_cacheable_tokens"], spec["max_output"]) == (
            model.min_cacheable_tokens,
            model.max_output,
        )
        assert (spec["forced_tool_choice"], spec["prefill"]) == (model.forced_tool_choice, model.prefill)
