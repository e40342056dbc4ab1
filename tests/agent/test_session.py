"""Session: the tool loop against the sim (real SDK), editing a real directory with the real Editor."""

from decimal import Decimal

import pytest
from samplerepo import tool as use

from escalate.agent.editor import Editor
from escalate.agent.session import Session
from escalate.llm.catalog import Catalog
from escalate.llm.client import MeteredClient
from escalate.llm.pricing import Budget, PriceTable
from escalate.records.types import TierPlan

CATALOG = Catalog.static()


def make_session(sim, tmp_path, model="claude-haiku-4-5", max_turns=5, thinking=None, max_tokens=4096):
    (tmp_path / "mod.py").write_text("X = 1\n")
    records: list = []
    llm = MeteredClient(CATALOG, PriceTable.load(), Budget("5"), records.append, provider=sim.provider())
    plan = TierPlan("haiku", CATALOG.get(model), 2, max_tokens, None, thinking)
    first = [{"type": "text", "text": "context: mod.py"}, {"type": "text", "text": "set X to 2"}]
    session = Session(plan, llm, Editor(tmp_path, [".escalate.yml"]), "system", first, max_turns=max_turns)
    return session, records


def test_tool_loop_edits_and_ends_on_end_turn(sim, tmp_path):
    sim.set_script(
        {
            "models": {
                "*": [
                    {"when": {"turn": 1}, "content": [use("view", path="mod.py")]},
                    {
                        "when": {"turn": 2},
                        "content": [use("str_replace", path="mod.py", old_str="X = 1", new_str="X = 2")],
                    },
                    {"when": {"turn": 3}, "content": "Set X to 2. DONE"},
                ]
            }
        }
    )
    session, records = make_session(sim, tmp_path)
    end = session.attempt()
    assert (end.reason, end.turns, end.tool_calls) == ("done", 3, 2)
    assert end.text.endswith("DONE")
    assert (tmp_path / "mod.py").read_text() == "X = 2\n"
    assert len(records) == 3 and all(r.cost_usd > Decimal(0) for r in records)
    roles = [m["role"] for m in session.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant"]


def test_feedback_continues_the_same_conversation(sim, tmp_path):
    sim.set_script({"models": {"*": [{"content": "Nothing to do. DONE", "repeat": True}]}})
    session, _ = make_session(sim, tmp_path)
    session.attempt()
    session.attempt("The runner checked your change and it failed at the target stage")
    body = sim.messages_requests()[-1]["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert "failed at the target stage" in body["messages"][-1]["content"][-1]["text"]


def test_turn_limit_ends_the_attempt(sim, tmp_path):
    sim.set_script({"models": {"*": [{"content": [use("view", path="mod.py")], "repeat": True}]}})
    session, records = make_session(sim, tmp_path, max_turns=3)
    end = session.attempt()
    assert (end.reason, end.turns) == ("turn_limit", 3) and len(records) == 3
    # The next attempt's feedback joins the pending tool results: the API wants alternating turns.
    session.max_turns = 1
    session.attempt("feedback")
    last = sim.messages_requests()[-1]["body"]["messages"][-1]["content"]
    assert [b["type"] for b in last] == ["tool_result", "text"]


def test_refusal_fails_the_attempt_with_its_reason(sim, tmp_path):
    sim.set_script({"models": {"*": [{"content": "I can't help with that.", "stop_reason": "refusal"}]}})
    session, _ = make_session(sim, tmp_path)
    end = session.attempt()
    assert end.reason == "refusal" and "refused" in end.failed_reason


def test_max_tokens_refuses_the_cut_off_tool_call(sim, tmp_path):
    cut = use("create", path="new.py", file_text="half")
    sim.set_script(
        {
            "models": {
                "*": [
                    {"when": {"turn": 1}, "content": [cut], "stop_reason": "max_tokens"},
                    {"when": {"turn": 2}, "content": "ok, smaller. DONE"},
                ]
            }
        }
    )
    session, _ = make_session(sim, tmp_path)
    end = session.attempt()
    assert end.reason == "done" and not (tmp_path / "new.py").exists()
    last = sim.messages_requests()[-1]["body"]["messages"][-1]["content"]
    assert last[0]["type"] == "tool_result" and last[0]["is_error"] is True
    assert "max_tokens" in last[-1]["text"]


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-opus-4-7"])
def test_thinking_blocks_are_passed_back_unchanged(sim, tmp_path, model):
    thinking = {"type": "thinking", "thinking": "X must become 2."}
    sim.set_script(
        {
            "models": {
                "*": [
                    {"when": {"turn": 1}, "content": [thinking, use("view", path="mod.py")]},
                    {"when": {"turn": 2}, "content": "DONE"},
                ]
            }
        }
    )
    session, _ = make_session(sim, tmp_path, model=model, thinking={"type": "enabled", "budget_tokens": 2048})
    assert session.attempt().reason == "done"
    requests = sim.messages_requests()
    assert [r["status"] for r in requests] == [200, 200]
    sent_back = requests[1]["body"]["messages"][1]["content"][0]
    assert sent_back["type"] == "thinking" and sent_back["signature"]


def test_pause_turn_continues_the_turn(sim, tmp_path):
    sim.set_script(
        {
            "models": {
                "*": [
                    {"when": {"turn": 1}, "content": "Working on it...", "stop_reason": "pause_turn"},
                    {"when": {"turn": 2}, "content": "DONE"},
                ]
            }
        }
    )
    session, records = make_session(sim, tmp_path)
    end = session.attempt()
    assert (end.reason, end.turns) == ("done", 2)
    assert [m["role"] for m in sim.messages_requests()[-1]["body"]["messages"]] == [
        "user",
        "assistant",
        "user",
    ]


def test_reply_with_a_lone_surrogate_is_made_sendable_except_signed_thinking():
    import json

    from escalate.agent.session import sendable

    plain = [{"type": "text", "text": "ok é"}]
    assert sendable(plain) is plain  # nothing to do: the very same list
    thinking = {"type": "thinking", "thinking": "t", "signature": "sig"}
    tool = {"type": "tool_use", "id": "t1", "name": "x", "input": {"path": "a\ud800b", "n": [1, "\udfff"]}}
    out = sendable([thinking, tool])
    assert out[0] is thinking and out[1]["input"] == {"path": "a\ufffdb", "n": [1, "\ufffd"]}
    assert tool["input"]["path"] == "a\ud800b"  # the editor still sees what the model sent
    json.dumps(out, ensure_ascii=False).encode("utf-8")
