"""The Messages endpoint of the simulated API, driven by the real anthropic SDK."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal

import anthropic
import pytest
from samplerepo import EDITOR_TOOL

from escalate.sim.catalogue import SimCatalogue
from escalate.sim.testing import running_sim

FIX = {"command": "str_replace", "path": "calc.py", "old_str": "a - b", "new_str": "a + b"}
SCRIPT = {
    "models": {
        "claude-sonnet-4-6": [
            {
                "when": {"last_user_has_tool_result": False},
                "content": [
                    {"type": "thinking", "thinking": "add() subtracts; the operator is wrong."},
                    {"type": "text", "text": "I'll fix the operator in calc.py now."},
                    {"type": "tool_use", "name": "str_replace_based_edit_tool", "input": FIX},
                ],
            },
            {"when": {"last_user_has_tool_result": True}, "content": "Fixed."},
        ]
    }
}


def client(sim, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.url, api_key="sk-test", max_retries=2, **kw)


def ask(c, **kw):
    params = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 4000,
        "messages": [{"role": "user", "content": "fix"}],
    }
    return c.messages.create(**{**params, **kw})


def raw(sim, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    req = urllib.request.Request(sim.url + path, method=method, headers=headers or {})
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_create_returns_scripted_blocks_with_generated_ids_and_signature(sim):
    sim.set_script(SCRIPT)
    msg = ask(client(sim), tools=[EDITOR_TOOL], thinking={"type": "enabled", "budget_tokens": 2000})
    assert [b.type for b in msg.content] == ["thinking", "text", "tool_use"]
    assert msg.content[0].signature and msg.content[0].thinking.startswith("add()")
    assert msg.content[2].id.startswith("toolu_01") and msg.content[2].input == FIX
    assert msg.stop_reason == "tool_use" and msg.id.startswith("msg_01")
    assert msg._request_id.startswith("req_")
    thinking = msg.usage.output_tokens_details.thinking_tokens
    assert 0 < thinking < msg.usage.output_tokens
    assert msg.usage.service_tier == "standard"


def test_tool_loop_and_request_log_with_charges(sim):
    sim.set_script(SCRIPT)
    c = client(sim)
    first = ask(c, tools=[EDITOR_TOOL])
    tool_use = first.content[-1]
    messages = [
        {"role": "user", "content": "fix"},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "ok"}]},
    ]
    second = ask(c, tools=[EDITOR_TOOL], messages=messages)
    assert second.content[0].text == "Fixed." and second.stop_reason == "end_turn"
    log = sim.messages_requests()
    assert [r["script_entry"] for r in log] == ["claude-sonnet-4-6[0]", "claude-sonnet-4-6[1]"]
    assert [r["request_id"] for r in log] == [first._request_id, second._request_id]
    assert log[0]["headers"]["auth"] == "bearer" and "sk-test" not in json.dumps(log)
    model = SimCatalogue.load().get("claude-sonnet-4-6")
    usage = second.usage
    expected = (usage.input_tokens * 3 + usage.output_tokens * 15) / Decimal(1_000_000)
    assert Decimal(log[1]["cost_usd_exact"]) == expected == model.charge(log[1]["usage"])
    assert sim.total_cost() == Decimal(log[0]["cost_usd_exact"]) + expected


def test_nothing_matches_gives_plain_end_turn_text(sim):
    msg = ask(client(sim))
    assert msg.stop_reason == "end_turn" and msg.content[0].type == "text"
    assert sim.messages_requests()[0]["script_entry"] is None


def test_stream_parses_thinking_text_and_tool_use(sim):
    sim.set_script(SCRIPT)
    params = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 4000,
        "tools": [EDITOR_TOOL],
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [{"role": "user", "content": "fix"}],
    }
    with client(sim).messages.stream(**params) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "I'll fix the operator in calc.py now."
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].thinking == "add() subtracts; the operator is wrong."
    assert final.content[0].signature.startswith("EqSim")
    assert final.content[2].input == FIX and final.stop_reason == "tool_use"
    assert final.usage.output_tokens_details.thinking_tokens > 0
    logged = sim.messages_requests()[0]
    assert logged["stream"] is True and logged["usage"]["output_tokens"] == final.usage.output_tokens


def test_omitted_thinking_display_keeps_signature(sim):
    sim.set_script(SCRIPT)
    msg = ask(client(sim), thinking={"type": "adaptive", "display": "omitted"})
    assert msg.content[0].thinking == "" and msg.content[0].signature
    assert msg.usage.output_tokens_details.thinking_tokens > 0


def test_edited_thinking_block_is_rejected(sim):
    sim.set_script(SCRIPT)
    c = client(sim)
    first = ask(c, tools=[EDITOR_TOOL])
    blocks = [b.model_dump(exclude_none=True) for b in first.content]
    blocks[0]["thinking"] = "something else"
    messages = [
        {"role": "user", "content": "fix"},
        {"role": "assistant", "content": blocks},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": first.content[-1].id, "content": "ok"}],
        },
    ]
    with pytest.raises(anthropic.BadRequestError, match="cannot be modified"):
        ask(c, tools=[EDITOR_TOOL], messages=messages)


def test_max_tokens_cuts_the_reply(sim):
    sim.set_script({"models": {"*": [{"content": "word " * 200}]}})
    msg = ask(client(sim), max_tokens=10)
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 10
    assert 0 < len(msg.content[0].text) < len("word " * 200)


def test_max_tokens_zero_prewarms_with_empty_content(sim):
    msg = ask(client(sim), max_tokens=0)
    assert msg.content == [] and msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 0


def test_x_api_key_and_bearer_accepted_missing_key_is_401(sim):
    body = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    status, headers, _ = raw(sim, "POST", "/v1/messages", body, {"x-api-key": "k"})
    assert status == 200 and headers["request-id"].startswith("req_")
    status, _, _ = raw(sim, "POST", "/v1/messages", body, {"Authorization": "Bearer k"})
    assert status == 200
    status, headers, err = raw(sim, "POST", "/v1/messages", body)
    assert status == 401 and err["error"]["type"] == "authentication_error"
    assert err["type"] == "error" and err["request_id"] == headers["request-id"]
    assert [r["headers"]["auth"] for r in sim.requests] == ["x-api-key", "bearer", None]


def test_required_key_rejects_other_keys():
    with running_sim(api_key="sk-right", require_key=True) as handle:
        with pytest.raises(anthropic.AuthenticationError):
            ask(anthropic.Anthropic(base_url=handle.url, api_key="sk-wrong", max_retries=0))
        assert ask(handle.client()).content


def test_unknown_model_and_unknown_path_are_404(sim):
    with pytest.raises(anthropic.NotFoundError) as info:
        ask(client(sim), model="claude-nonesuch-9")
    assert info.value.body["error"]["message"] == "model: claude-nonesuch-9"
    assert info.value.request_id.startswith("req_")
    status, _, err = raw(sim, "GET", "/v1/nothing", headers={"x-api-key": "k"})
    assert status == 404 and err["error"]["type"] == "not_found_error"


def test_request_log_file_is_jsonl(tmp_path):
    path = tmp_path / "sim.jsonl"
    with running_sim(log_path=path) as handle:
        ask(handle.client())
        ask(handle.client(), model="claude-haiku-4-5")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["model"] for r in lines] == ["claude-sonnet-4-6", "claude-haiku-4-5"]
    assert all(r["status"] == 200 and r["cost_usd"] > 0 for r in lines)


def test_env_points_the_sdk_at_the_sim(sim, monkeypatch):
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    msg = anthropic.Anthropic(max_retries=0).messages.create(
        model="claude-haiku-5-5", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert msg.model == "claude-haiku-5-5"


def test_stop_sequence_cuts_the_text(sim):
    sim.set_script({"models": {"*": [{"content": "alpha beta END gamma", "repeat": True}]}})
    msg = ask(client(sim), stop_sequences=["END", "beta"])
    assert (
        msg.content[0].text == "alpha " and msg.stop_reason == "stop_sequence" and msg.stop_sequence == "beta"
    )
    with client(sim).messages.stream(
        model="claude-haiku-4-5",
        max_tokens=100,
        stop_sequences=["END"],
        messages=[{"role": "user", "content": "x"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "alpha beta " and final.stop_sequence == "END"


def test_rate_limit_headers_are_present(sim):
    response = client(sim).messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    )
    assert response.headers["anthropic-ratelimit-requests-limit"] == "4000"
    assert response.headers["anthropic-ratelimit-input-tokens-reset"].endswith("Z")


def test_a_stopped_sim_stops_answering_kept_alive_connections():
    with running_sim() as handle:
        client = handle.client(max_retries=0)
        client.models.list()
    with pytest.raises(anthropic.APIConnectionError):
        client.models.list()
