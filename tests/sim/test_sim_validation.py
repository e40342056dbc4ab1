"""The simulated API rejects what the real API rejects, with the real status, type and message."""

from __future__ import annotations

import anthropic
import pytest
from samplerepo import EDITOR_TOOL

USER = [{"role": "user", "content": "fix it"}]
CC = {"type": "ephemeral"}


def _tool_turn(result_first: bool = True, tool_id: str = "toolu_01abc") -> list[dict]:
    use = {"type": "tool_use", "id": "toolu_01abc", "name": "str_replace_based_edit_tool", "input": {}}
    result = {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}
    text = {"type": "text", "text": "and also"}
    return [
        {"role": "user", "content": "fix"},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [result, text] if result_first else [text, result]},
    ]


CASES = {
    "missing model": ({"model": None}, "model: Field required"),
    "missing max_tokens": ({"max_tokens": None}, "max_tokens: Field required"),
    "missing messages": ({"messages": None}, "messages: Field required"),
    "max_tokens above model max": (
        {"model": "claude-haiku-4-5", "max_tokens": 64001},
        "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for "
        "claude-haiku-4-5",
    ),
    "five cache breakpoints": (
        {"system": [{"type": "text", "text": f"s{i}", "cache_control": CC} for i in range(5)]},
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    ),
    "automatic cache_control is a fifth slot": (
        {
            "system": [{"type": "text", "text": f"s{i}", "cache_control": CC} for i in range(4)],
            "cache_control": CC,
        },
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    ),
    "budget below 1024": (
        {"thinking": {"type": "enabled", "budget_tokens": 1000}},
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    ),
    "budget not below max_tokens": (
        {"max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 2000}},
        "`max_tokens` must be greater than `thinking.budget_tokens`",
    ),
    "enabled thinking on an adaptive-only model": (
        {"model": "claude-opus-4-7", "thinking": {"type": "enabled", "budget_tokens": 2000}},
        '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive"',
    ),
    "adaptive thinking on a 4.5 model": (
        {"model": "claude-haiku-4-5", "thinking": {"type": "adaptive"}},
        "adaptive thinking is not supported on this model",
    ),
    "disabled thinking on opus 5.5": (
        {"model": "claude-opus-5-5", "thinking": {"type": "disabled"}},
        '"thinking.type.disabled" is not supported for this model.',
    ),
    "effort on haiku 4.5": (
        {"model": "claude-haiku-4-5", "output_config": {"effort": "low"}},
        "This model does not support the effort parameter.",
    ),
    "effort on sonnet 4.5": (
        {"model": "claude-sonnet-4-5", "output_config": {"effort": "high"}},
        "This model does not support the effort parameter.",
    ),
    "effort level the model lacks": (
        {"model": "claude-opus-4-5", "output_config": {"effort": "max"}},
        "output_config.effort: effort level 'max' is not supported by this model",
    ),
    "opus 5 disabled thinking at xhigh": (
        {"model": "claude-opus-5", "thinking": {"type": "disabled"}, "output_config": {"effort": "xhigh"}},
        '"thinking.type.disabled" is only supported with "output_config.effort" up to',
    ),
    "forced tool_choice on sonnet 5.5": (
        {"model": "claude-sonnet-5-5", "tools": [EDITOR_TOOL], "tool_choice": {"type": "any"}},
        "forced tool use (type 'any' or 'tool') is not supported for this model",
    ),
    "forced tool_choice on haiku 5.5": (
        {
            "model": "claude-haiku-5-5",
            "tools": [EDITOR_TOOL],
            "tool_choice": {"type": "tool", "name": "str_replace_based_edit_tool"},
        },
        "forced tool use",
    ),
    "forced tool_choice with thinking": (
        {
            "tools": [EDITOR_TOOL],
            "tool_choice": {"type": "any"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
        },
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
    "tool_use without tool_result": (
        {"tools": [EDITOR_TOOL], "messages": _tool_turn(tool_id="toolu_01other")},
        "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_01abc",
    ),
    "tool_result not first": (
        {"tools": [EDITOR_TOOL], "messages": _tool_turn(result_first=False)},
        "`tool_use` ids were found without `tool_result` blocks immediately after",
    ),
    "trailing tool_use": (
        {"model": "claude-haiku-4-5", "tools": [EDITOR_TOOL], "messages": _tool_turn()[:2]},
        "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_01abc",
    ),
    "prefill on 4.6": (
        {"messages": [*USER, {"role": "assistant", "content": "The answer is"}]},
        "This model does not support assistant message prefill. "
        "The conversation must end with a user message.",
    ),
    "empty text block": (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
        "text content blocks must be non-empty",
    ),
    "system not text blocks": ({"system": [{"type": "image"}]}, "system.0.type: Input should be 'text'"),
    "tool_use input not a mapping": (
        {
            "model": "claude-haiku-4-5",
            "messages": [
                *USER,
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": "oops"}],
                },
            ],
        },
        "tool_use.input: Input should be a valid dictionary",
    ),
    "temperature and top_p together": (
        {"model": "claude-haiku-4-5", "temperature": 0.5, "top_p": 0.9},
        "`temperature` and `top_p` cannot both be specified",
    ),
    "1h breakpoint after a 5m one": (
        {
            "system": [
                {"type": "text", "text": "a", "cache_control": {"type": "ephemeral", "ttl": "5m"}},
                {"type": "text", "text": "b", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            ]
        },
        "a ttl='1h' cache entry must not come after a ttl='5m' cache entry",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_request_is_400_with_real_message(sim, case):
    change, message = CASES[case]
    body = {"model": "claude-sonnet-4-6", "max_tokens": 4000, "messages": USER, **change}
    # client.post sends the body as given, so a test can leave out fields messages.create requires.
    client = anthropic.Anthropic(base_url=sim.url, api_key="sk-test", max_retries=2)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.post("/v1/messages", cast_to=object, body={k: v for k, v in body.items() if v is not None})
    err = info.value
    assert err.status_code == 400 and err.body["error"]["type"] == "invalid_request_error"
    assert message in err.body["error"]["message"]
    assert err.body["request_id"] == err.request_id
    assert len(sim.requests) == 1  # 400s are not retried


def test_valid_variants_pass(sim):
    client = anthropic.Anthropic(base_url=sim.url, api_key="sk-test", max_retries=0)
    ok = [
        {"model": "claude-haiku-4-5", "prefill": True},
        {"model": "claude-opus-4-6", "output_config": {"effort": "max"}},
        {"model": "claude-opus-5-5", "thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}},
        {"model": "claude-haiku-5-5", "thinking": {"type": "disabled"}, "output_config": {"effort": "high"}},
        {"model": "claude-sonnet-5-5", "thinking": {"type": "between_tools"}, "tools": [EDITOR_TOOL]},
        {"model": "claude-haiku-4-5", "tools": [EDITOR_TOOL], "tool_choice": {"type": "any"}},
        {"model": "claude-sonnet-4-6", "tools": [EDITOR_TOOL], "messages": _tool_turn()},
    ]
    for change in ok:
        body = {"max_tokens": 4000, "messages": USER, **change}
        if body.pop("prefill", False):
            body["messages"] = [*USER, {"role": "assistant", "content": "Sure,"}]
        assert client.messages.create(**body).content


def test_count_tokens_validates_too(sim):
    client = anthropic.Anthropic(base_url=sim.url, api_key="sk-test", max_retries=0)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="claude-nope", messages=USER)
    with pytest.raises(anthropic.BadRequestError, match="effort parameter"):
        client.messages.count_tokens(model="claude-haiku-4-5", messages=USER, output_config={"effort": "low"})


MALFORMED = [
    [],
    {"model": 5, "max_tokens": 10, "messages": USER},
    {"model": "claude-haiku-4-5", "max_tokens": "ten", "messages": USER},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": "hi"},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [5]},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": 5}]},
    {
        "model": "claude-haiku-4-5",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": [{"text": "x"}]}],
    },
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER, "system": 7},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER, "tools": [5]},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER, "tools": "x"},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER, "tool_choice": "auto"},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER, "thinking": "on"},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER, "output_config": {"effort": 3}},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER, "cache_control": "yes"},
    {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": USER, "cache_control": {"type": "forever"}},
    {
        "model": "claude-haiku-4-5",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": 3}]}
        ],
    },
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_bodies_are_client_errors_never_sim_crashes(sim, body):
    client = anthropic.Anthropic(base_url=sim.url, api_key="sk-test", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as info:
        client.post("/v1/messages", cast_to=object, body=body)
    assert info.value.status_code == 400, info.value.body
    with pytest.raises(anthropic.APIStatusError) as info:
        client.post("/v1/messages/count_tokens", cast_to=object, body=body)
    assert info.value.status_code == 400, info.value.body
