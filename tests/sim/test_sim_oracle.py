"""Oracle mode: seeded, calibrated, shared difficulty, the two-turn protocol, one-shot batches."""

from __future__ import annotations

import pytest
from samplerepo import EDITOR_TOOL

from escalate.errors import ConfigError
from escalate.sim.catalogue import SimCatalogue
from escalate.sim.oracle import Oracle

FIX = [{"path": "calc.py", "old_str": "a - b", "new_str": "a + b"}]
WRONG = [[{"path": "calc.py", "old_str": "a - b", "new_str": "a * b"}]]
CATALOGUE = SimCatalogue.load()
HAIKU, SONNET, OPUS = (CATALOGUE.get(m) for m in ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-6"))
SUCCESS = {"haiku": 0.733, "sonnet": 0.772, "opus": 0.809}


def spec(n_tasks: int = 1, seed: int = 1, success: dict | None = None, **task) -> dict:
    tasks = [
        {"id": f"t{i}", "match": f"tests/test_t{i}.py::test_x", "fix": FIX, "wrong": WRONG, **task}
        for i in range(n_tasks)
    ]
    return {"seed": seed, "success": success or SUCCESS, "tasks": tasks}


def body(i: int = 0, messages: list | None = None, **kw) -> dict:
    first = [{"role": "user", "content": f"Make tests/test_t{i}.py::test_x pass."}]
    return {"model": "x", "max_tokens": 4000, "tools": [EDITOR_TOOL], "messages": messages or first, **kw}


def first_attempts(oracle: Oracle, model, n: int) -> list[bool]:
    return [oracle.respond(model, body(i))[1]["oracle"]["success"] for i in range(n)]


def test_deterministic_for_a_seed():
    a, b = Oracle(spec(50, seed=3), CATALOGUE), Oracle(spec(50, seed=3), CATALOGUE)
    assert first_attempts(a, SONNET, 50) == first_attempts(b, SONNET, 50)
    assert [a.respond(SONNET, body(i)) for i in range(5)] == [b.respond(SONNET, body(i)) for i in range(5)]
    c = Oracle(spec(50, seed=4), CATALOGUE)
    assert first_attempts(c, SONNET, 50) != first_attempts(Oracle(spec(50, seed=3), CATALOGUE), SONNET, 50)


@pytest.mark.parametrize("model, p", [(HAIKU, 0.733), (SONNET, 0.772), (OPUS, 0.809)])
def test_marginal_success_rate_matches_the_probability(model, p):
    n = 1500
    rate = sum(first_attempts(Oracle(spec(n, seed=11), CATALOGUE), model, n)) / n
    assert abs(rate - p) < 0.03


def test_difficulty_is_shared_across_models():
    n = 400
    haiku = first_attempts(Oracle(spec(n, seed=5), CATALOGUE), HAIKU, n)
    opus = first_attempts(Oracle(spec(n, seed=5), CATALOGUE), OPUS, n)
    assert any(not o for o in opus)
    assert all(not h for h, o in zip(haiku, opus, strict=True) if not o)  # Opus fails -> Haiku fails
    assert sum(opus) > sum(haiku)


def test_given_difficulty_orders_tasks():
    easy = Oracle(spec(1, difficulty=0.01), CATALOGUE)
    hard = Oracle(spec(1, difficulty=0.999), CATALOGUE)
    assert all(easy.respond(HAIKU, body())[1]["oracle"]["success"] for _ in range(20))
    assert not any(hard.respond(OPUS, body())[1]["oracle"]["success"] for _ in range(20))


def test_failures_are_plausible_kinds():
    oracle = Oracle(spec(200, success={"haiku": 0.0}), CATALOGUE)
    kinds = {}
    for i in range(200):
        blocks, decision = oracle.respond(HAIKU, body(i))
        kind = decision["oracle"]["kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
        edits = [b["input"] for b in blocks if b["type"] == "tool_use"]
        if kind == "wrong":
            assert edits == [{"command": "str_replace", **WRONG[0][0]}]
        elif kind == "syntax":
            assert edits[0]["new_str"] == "a + b)\n"
        elif kind == "no_change":
            assert edits == [{"command": "view", "path": "calc.py"}]
    assert set(kinds) == {"wrong", "syntax", "no_change"}  # "undo" needs an earlier edit


def _after_edit(oracle: Oracle, model, edit_input: dict, is_error: bool = False) -> list[dict]:
    use = {
        "type": "tool_use",
        "id": "toolu_01prev",
        "name": "str_replace_based_edit_tool",
        "input": edit_input,
    }
    return [
        {"role": "user", "content": "Make tests/test_t0.py::test_x pass."},
        {"role": "assistant", "content": [use]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01prev", "content": "ok", "is_error": is_error}
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
        {"role": "user", "content": "tests/test_t0.py::test_x still fails: assert 6 == 5"},
    ]


def test_a_later_fix_first_undoes_its_own_applied_edit():
    oracle = Oracle(spec(1, success={"haiku": 1.0}), CATALOGUE)
    wrong = {"command": "str_replace", **WRONG[0][0]}
    blocks, decision = oracle.respond(HAIKU, body(messages=_after_edit(oracle, HAIKU, wrong)))
    edits = [b["input"] for b in blocks if b["type"] == "tool_use"]
    undo = {"command": "str_replace", "path": "calc.py", "old_str": "a * b", "new_str": "a - b"}
    assert edits == [undo, {"command": "str_replace", **FIX[0]}] and decision["oracle"]["attempt"] == 1
    failed = oracle.respond(HAIKU, body(messages=_after_edit(oracle, HAIKU, wrong, is_error=True)))[0]
    assert [b["input"] for b in failed if b["type"] == "tool_use"] == [{"command": "str_replace", **FIX[0]}]


def test_turn_protocol_through_the_sdk(sim):
    sim.set_script({"oracle": spec(1, success={"sonnet": 1.0})})
    client = sim.client()
    first = client.messages.create(
        **{**body(), "model": "claude-sonnet-4-6", "thinking": {"type": "enabled", "budget_tokens": 1024}}
    )
    assert first.stop_reason == "tool_use" and first.content[0].type == "thinking"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert [u.input for u in uses] == [{"command": "str_replace", **FIX[0]}]
    assert first.usage.output_tokens > 20
    messages = body()["messages"] + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "edited"}],
        },
    ]
    second = client.messages.create(**{**body(messages=messages), "model": "claude-sonnet-4-6"})
    assert second.stop_reason == "end_turn" and "calc.py" in second.content[0].text
    log = sim.messages_requests()
    assert log[0]["oracle"]["success"] is True and log[0]["oracle"]["kind"] == "fix"
    assert log[1]["oracle"]["phase"] == "done"


def test_unmatched_requests_fall_back_to_the_script(sim):
    sim.set_script({"oracle": spec(1), "models": {"*": [{"content": "scripted", "repeat": True}]}})
    reply = sim.client().messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "write a commit message"}],
    )
    assert reply.content[0].text == "scripted"
    no_editor = {
        **body(),
        "model": "claude-haiku-4-5",
        "tools": [],
    }  # a reviewer names the task, has no editor
    assert sim.client().messages.create(**no_editor).content[0].text == "scripted"
    assert len(sim.messages_requests()) == 2
    assert all("oracle" not in r for r in sim.messages_requests())


def test_pass_system_requests_are_not_attempts():
    # A read-only explorer is offered the editor; pass_system keeps it from counting as attempt 1.
    oracle = Oracle({**spec(1), "pass_system": ["You are the explorer"]}, CATALOGUE)
    assert oracle.respond(HAIKU, body(system="You are the explorer in a pipeline.")) is None
    assert oracle.respond(HAIKU, body())[1]["oracle"]["attempt"] == 1


def test_one_shot_batch_gets_all_edits(sim):
    two = [
        {"path": "calc.py", "old_str": "a - b", "new_str": "a + b"},
        {"path": "util.py", "old_str": "x = 1", "new_str": "x = 2"},
    ]
    sim.set_script({"oracle": spec(1, success={"opus": 1.0}, fix=two)})
    client = sim.client()
    batch = client.messages.batches.create(
        requests=[{"custom_id": "t0", "params": {**body(), "model": "claude-opus-4-6"}}]
    )
    client.messages.batches.retrieve(batch.id)
    (result,) = list(client.messages.batches.results(batch.id))
    edits = [b.input for b in result.result.message.content if b.type == "tool_use"]
    assert [e["path"] for e in edits] == ["calc.py", "util.py"]


def test_missing_probability_and_bad_spec():
    oracle = Oracle(spec(1, success={"opus": 0.9}), CATALOGUE)
    with pytest.raises(Exception, match="oracle.success.haiku"):
        oracle.respond(HAIKU, body())
    with pytest.raises(ConfigError, match="fix must be a non-empty list"):
        Oracle({"success": SUCCESS, "tasks": [{"id": "a", "match": "a"}]}, CATALOGUE)


def test_per_model_noise_still_calibrated_but_not_nested():
    n = 1500
    opus = first_attempts(Oracle({**spec(n, seed=5), "shared_noise": False}, CATALOGUE), OPUS, n)
    haiku = first_attempts(Oracle({**spec(n, seed=5), "shared_noise": False}, CATALOGUE), HAIKU, n)
    assert abs(sum(opus) / n - 0.809) < 0.03
    assert any(h and not o for h, o in zip(haiku, opus, strict=True))  # Haiku sometimes beats Opus
