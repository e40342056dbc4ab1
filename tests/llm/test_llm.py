import pytest

from escalate.errors import MissingCredentialError
from escalate.llm.catalog import Catalog
from escalate.llm.client import ModelRequest, estimate_input_tokens, require_api_key
from escalate.llm.providers.anthropic import block_to_param, build_params, thinking_param

CATALOG = Catalog.static()
TOOLS = [{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]


def request(model_id: str, **kw) -> ModelRequest:
    messages = kw.pop("messages", [{"role": "user", "content": [{"type": "text", "text": "context"}]}])
    return ModelRequest(
        model=CATALOG.get(model_id),
        system="be careful",
        messages=messages,
        max_tokens=8192,
        tools=TOOLS,
        **kw,
    )


def count_breakpoints(params: dict) -> int:
    n = sum(1 for b in params.get("system", []) if "cache_control" in b)
    for m in params["messages"]:
        n += sum(1 for b in m["content"] if "cache_control" in b)
    return n


@pytest.mark.parametrize("model_id", sorted(CATALOG.models))
def test_fields_follow_capabilities(model_id):
    info = CATALOG.get(model_id)
    params = build_params(
        request(model_id, effort="medium", thinking={"type": "enabled", "budget_tokens": 2048})
    )
    caps = info.capabilities
    assert ("output_config" in params) == ("medium" in caps.effort_levels)
    thinking = params.get("thinking")
    if "adaptive" in caps.thinking_types:  # preferred: the SDK deprecates enabled where both exist
        assert thinking == {"type": "adaptive"}
    elif "enabled" in caps.thinking_types:
        assert thinking == {"type": "enabled", "budget_tokens": 2048}
    else:
        assert thinking is None
    assert params["tool_choice"] == {"type": "auto"}  # never forced
    assert not {"temperature", "top_p", "top_k"} & set(params)


def test_no_effort_on_a_model_without_effort():
    params = build_params(request("claude-haiku-4-5", effort="high"))
    assert "output_config" not in params


def test_thinking_budget_stays_below_max_tokens_and_above_the_minimum():
    assert thinking_param({"type": "enabled", "budget_tokens": 9000}, frozenset({"enabled"}), 4096) == {
        "type": "enabled",
        "budget_tokens": 4095,
    }
    assert thinking_param({"type": "enabled", "budget_tokens": 2000}, frozenset({"enabled"}), 1024) is None
    assert thinking_param({"type": "disabled"}, frozenset({"enabled", "disabled"}), 8192) is None


def test_cache_breakpoints_system_context_previous_and_latest_user_message():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "ctx"}, {"type": "text", "text": "task"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]
    params = build_params(request("claude-sonnet-4-6", messages=messages))
    assert params["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" in params["messages"][0]["content"][0]
    # Where the previous call (ending with the task block) wrote its entry.
    assert "cache_control" in params["messages"][0]["content"][1]
    assert "cache_control" in params["messages"][2]["content"][-1]
    assert count_breakpoints(params) == 4
    first = build_params(request("claude-sonnet-4-6", messages=messages[:1]))
    assert count_breakpoints(first) == 3  # system, context, task (the latest user message's end)
    # The conversation itself is never modified (breakpoints would pile up turn after turn).
    assert all("cache_control" not in b for m in messages for b in m["content"])


def test_prefill_is_refused():
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "partial"}]},
    ]
    with pytest.raises(ValueError, match="prefill"):
        build_params(request("claude-haiku-4-5", messages=messages))


def test_thinking_blocks_go_back_unchanged_and_empty_text_is_dropped():
    thinking = {"type": "thinking", "thinking": "hmm", "signature": "EqQB=="}
    assert block_to_param(thinking) == thinking
    assert block_to_param({"type": "redacted_thinking", "data": "abc"}) == {
        "type": "redacted_thinking",
        "data": "abc",
    }
    assert block_to_param({"type": "text", "text": ""}) is None
    use = {"type": "tool_use", "id": "t", "name": "n", "input": {"a": 1}, "caller": None}
    assert block_to_param(use) == {"type": "tool_use", "id": "t", "name": "n", "input": {"a": 1}}


def test_input_estimate_is_not_below_the_text_length_over_four():
    params = build_params(request("claude-haiku-4-5"))
    text = "x" * 40_000
    params["messages"][0]["content"][0]["text"] = text
    assert estimate_input_tokens(params) > len(text) / 4


def test_missing_key_says_how_to_set_it():
    with pytest.raises(MissingCredentialError, match="ANTHROPIC_API_KEY.*escalate demo"):
        require_api_key({})
    assert require_api_key({"ANTHROPIC_API_KEY": "sk-x"}) == "sk-x"


# -- against the simulated API (the real SDK over loopback) ----------------------------------

from decimal import Decimal  # noqa: E402

from escalate.llm.client import MeteredClient  # noqa: E402
from escalate.llm.pricing import Budget, BudgetExceeded, PriceTable  # noqa: E402
from escalate.llm.protocols import Stop  # noqa: E402

PRICES = PriceTable.load()


def logged(sim, n: int = 1) -> list[dict]:
    """The sim's /v1/messages records once n are there: the sim appends its log record just after
    the response is written, so the client can see the answer a moment before the log does."""
    import time

    deadline = time.monotonic() + 5
    while len(sim.messages_requests()) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return sim.messages_requests()


def client_for(sim, budget: str = "5", records: list | None = None, **kw) -> MeteredClient:
    sink = records if records is not None else []
    return MeteredClient(CATALOG, PRICES, Budget(budget), sink.append, run="t", provider=sim.provider(), **kw)


def _sim_models() -> list[str]:
    from escalate.sim.catalogue import SimCatalogue

    sim_catalogue = SimCatalogue.load()
    return sorted(m.id for m in CATALOG.models.values() if m.lifecycle != "retired" and m.id in sim_catalogue)


def test_every_catalogue_model_accepts_the_request_we_build(sim):
    records: list = []
    llm = client_for(sim, records=records)
    models = _sim_models()
    assert len(models) >= 10  # the loop below must not pass by having nothing to check
    for model_id in models:
        thinking = {"type": "enabled", "budget_tokens": 2048}
        reply = llm.send(request(model_id, effort="medium", thinking=thinking, tier="t"))
        assert reply.stop == Stop.DONE and reply.record.stop_reason == "end_turn", model_id
    entries = logged(sim, len(models))
    assert [e["status"] for e in entries] == [200] * len(models), [e["error"] for e in entries]
    for record, entry in zip(records, entries, strict=True):
        # Our price for the reported usage is the sim's own charge, to the exact Decimal.
        assert record.cost_usd == Decimal(entry["cost_usd_exact"]) > 0, record.model
        assert record.request_id == entry["request_id"]


def test_streaming_above_the_sdk_threshold(sim):
    llm = client_for(sim)
    req = request("claude-sonnet-4-6")
    req.max_tokens = 32_000
    reply = llm.send(req)
    assert logged(sim)[0]["stream"] is True
    assert reply.record.request_id and reply.record.output_tokens > 0


def test_later_turns_read_the_conversation_from_cache(sim):
    big = "\n".join(f"def helper_{i}(x):\n    return x * {i}  # some context line" for i in range(700))
    messages = [{"role": "user", "content": [{"type": "text", "text": big}, {"type": "text", "text": "go"}]}]
    records: list = []
    llm = client_for(sim, records=records)
    first = llm.send(request("claude-haiku-4-5", messages=messages))
    messages.append({"role": "assistant", "content": first.content})
    messages.append({"role": "user", "content": [{"type": "text", "text": "and again"}]})
    llm.send(request("claude-haiku-4-5", messages=messages))
    assert records[0].cache_write_tokens > 4096 and records[0].cache_read_tokens == 0
    assert records[1].cache_read_tokens >= records[0].cache_write_tokens


def test_budget_is_checked_before_the_call_is_sent(sim):
    llm = client_for(sim, budget="0.01")
    with pytest.raises(BudgetExceeded):
        llm.send(request("claude-opus-4-6"))  # 8192 output tokens at $25/MTok alone is $0.20
    assert sim.messages_requests() == []


def test_api_errors_carry_the_request_id(sim):
    from escalate.llm.client import ModelCallError

    sim.set_script({"faults": [{"on_request": 1, "status": 400}]})
    with pytest.raises(ModelCallError) as info:
        client_for(sim).send(request("claude-haiku-4-5"))
    assert info.value.request_id == logged(sim)[0]["request_id"]
    assert "400" in str(info.value)


def test_worst_case_covers_a_full_cache_write_and_max_tokens(sim):
    from escalate.llm.pricing import Usage

    text = "def f(x):\n    return x + 1  # a line of code\n" * 500
    req = request("claude-opus-4-7", messages=[{"role": "user", "content": [{"type": "text", "text": text}]}])
    worst = client_for(sim).worst_case(req)
    records: list = []
    client_for(sim, records=records).send(req)
    prompt = records[0].usage.prompt_tokens  # what the sim counted, with opus-4-7's 1.3x tokenizer
    input_side = worst - PRICES.worst_case("claude-opus-4-7", 0, req.max_tokens)
    assert input_side >= PRICES.cost("claude-opus-4-7", Usage(cache_write_5m=prompt)) > 0
