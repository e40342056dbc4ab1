"""Scripted behaviour: the documented format, `when` conditions, consumption, repeat, wildcard."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from samplerepo import EDITOR_TOOL

from escalate.errors import ConfigError
from escalate.sim.script import Script


def text(reply) -> str:
    return "".join(b.text for b in reply.content if b.type == "text")


def ask(sim, content="fix it", model="claude-haiku-4-5", **kw):
    messages = content if isinstance(content, list) else [{"role": "user", "content": content}]
    return sim.client().messages.create(model=model, max_tokens=2000, messages=messages, **kw)


def test_when_conditions_pick_entries(sim):
    sim.set_script(
        {
            "models": {
                "claude-haiku-4-5": [
                    {"when": {"system_contains": "calc.py", "last_user_contains": "failed"}, "content": "A"},
                    {"when": {"last_user_contains": ["ruff", "E501"]}, "content": "B"},
                    {"when": {"request_contains": "ticket-42", "thinking": True}, "content": "C"},
                    {"when": {"tools_include": "str_replace_based_edit_tool", "turn": 1}, "content": "D"},
                ]
            }
        }
    )
    assert text(ask(sim, "the test failed", system="You maintain calc.py")) == "A"
    assert text(ask(sim, "the test failed", system="You maintain calc.py")) != "A"  # consumed
    assert text(ask(sim, "ruff says E501")) == "B"
    assert text(ask(sim, "ruff says W291")) == "I have no further changes to make."
    assert text(ask(sim, "fix ticket-42", thinking={"type": "enabled", "budget_tokens": 1024})) == "C"
    assert text(ask(sim, "anything", tools=[EDITOR_TOOL])) == "D"
    assert [r.get("script_entry") for r in sim.messages_requests()] == [
        "claude-haiku-4-5[0]",
        None,
        "claude-haiku-4-5[1]",
        None,
        "claude-haiku-4-5[2]",
        "claude-haiku-4-5[3]",
    ]


def test_tool_result_conditions(sim):
    sim.set_script(
        {
            "models": {
                "*": [
                    {"when": {"last_tool_result_is_error": True}, "content": "retrying"},
                    {"when": {"last_user_has_tool_result": True}, "content": "done"},
                    {
                        "when": {"last_user_has_tool_result": False},
                        "content": [{"type": "tool_use", "input": {"command": "view", "path": "calc.py"}}],
                    },
                ]
            }
        }
    )
    first = ask(sim, tools=[EDITOR_TOOL])
    assert first.stop_reason == "tool_use" and first.content[0].name == "str_replace_based_edit_tool"
    use = first.content[0]

    def turn(is_error: bool) -> list[dict]:
        return [
            {"role": "user", "content": "fix it"},
            {"role": "assistant", "content": [use.model_dump(exclude_none=True)]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "boom", "is_error": is_error}
                ],
            },
        ]

    assert text(ask(sim, turn(False), tools=[EDITOR_TOOL])) == "done"
    assert text(ask(sim, turn(True), tools=[EDITOR_TOOL])) == "retrying"


def test_repeat_wildcard_and_own_list(sim):
    sim.set_script(
        {
            "models": {
                "claude-opus-4-6": [{"content": "opus once"}],
                "*": [{"content": "anyone", "repeat": True}],
            }
        }
    )
    assert text(ask(sim, model="claude-opus-4-6")) == "opus once"
    assert text(ask(sim, model="claude-opus-4-6")) == "I have no further changes to make."  # has its own list
    assert [
        text(ask(sim, model=m)) for m in ("claude-haiku-4-5", "claude-sonnet-5-5", "claude-haiku-4-5")
    ] == ["anyone"] * 3


def test_stop_reason_and_usage_override(sim):
    sim.set_script(
        {
            "models": {
                "*": [
                    {
                        "content": [{"type": "text", "text": "refused"}],
                        "stop_reason": "refusal",
                        "usage": {"output_tokens": 120, "input_tokens": 7},
                    }
                ]
            }
        }
    )
    reply = ask(sim)
    assert reply.stop_reason == "refusal" and reply.stop_details.type == "refusal"
    assert reply.usage.output_tokens == 120 and reply.usage.input_tokens == 7
    assert Decimal(sim.messages_requests()[0]["cost_usd_exact"]) == (7 * 1 + 120 * 5) / Decimal(10**6)


def test_set_script_from_yaml_file(sim, tmp_path: Path):
    path = tmp_path / "s.yml"
    path.write_text("models:\n  '*':\n    - content: from yaml\n", encoding="utf-8")
    sim.set_script(path)
    assert text(ask(sim)) == "from yaml"


def test_example_escalation_script_parses():
    script = Script.load("escalation")
    haiku = script.models["claude-haiku-4-5"]
    edits = [b["input"]["new_str"] for e in haiku for b in e.content if b["type"] == "tool_use"]
    assert edits == ["a * b", "b - a"]
    sonnet = [b for e in script.models["claude-sonnet-4-6"] for b in e.content if b["type"] == "tool_use"]
    assert sonnet[0]["input"] == {
        "command": "str_replace",
        "path": "calc.py",
        "old_str": "a - b",
        "new_str": "a + b",
    }


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"modles": {}}, "unknown top-level keys"),
        ({"models": {"*": [{"when": {"moon_phase": "full"}, "content": "x"}]}}, "is not a condition"),
        ({"models": {"*": [{"content": [{"type": "image"}]}]}}, "content[0].type must be one of"),
        ({"models": {"*": [{"content": [{"type": "tool_use"}]}]}}, "input must be a mapping"),
        ({"models": {"*": [{"content": "x", "stop_reason": "tired"}]}}, "stop_reason must be one of"),
        ({"models": {"*": [{"content": "x", "usage": {"cost": 1}}]}}, "usage may only set"),
    ],
)
def test_bad_scripts_say_what_to_fix(raw, message):
    with pytest.raises(ConfigError, match="sim script") as info:
        Script.load(raw)
    assert message in str(info.value)


def test_missing_script_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        Script.load(tmp_path / "nope.yml")
