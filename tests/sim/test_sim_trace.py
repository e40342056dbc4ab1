"""Token traces (sim/trace.py) and joint outcomes (sim/joint.py) of the oracle; the sim's cache
accounting over a traced conversation, with the runner's own provider deciding the breakpoints."""

from __future__ import annotations

import statistics

import pytest
from samplerepo import EDITOR_TOOL

from escalate.errors import ConfigError
from escalate.llm.catalog import Catalog
from escalate.llm.client import ModelRequest
from escalate.sim.catalogue import SimCatalogue
from escalate.sim.joint import JointTable
from escalate.sim.oracle import Oracle
from escalate.sim.trace import TraceSpec

FIX = [{"path": "calc.py", "old_str": "a - b", "new_str": "a + b"}]
CATALOGUE = SimCatalogue.load()
HAIKU, SONNET, OPUS = (CATALOGUE.get(m) for m in ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-6"))
# Pattern counts of a small real-looking table: (haiku, sonnet, opus) resolved flags.
COUNTS = {(1, 1, 1): 120, (0, 1, 1): 93, (0, 0, 0): 53, (0, 1, 0): 8, (0, 0, 1): 8, (1, 0, 0): 4}


def joint() -> dict:
    return {"lines": ["haiku", "sonnet", "opus"],
            "patterns": [{"resolved": list(p), "weight": w} for p, w in COUNTS.items()]}  # fmt: skip


def spec(n: int = 1, seed: int = 1, trace: object = True) -> dict:
    tasks = [{"id": f"t{i}", "match": f"tests/test_t{i}.py::test_x", "fix": FIX} for i in range(n)]
    return {"seed": seed, "joint": joint(), "trace": trace, "tasks": tasks}


# -- joint outcomes ------------------------------------------------------------------------------


def test_joint_draw_reproduces_the_tables_frequencies():
    table = JointTable.parse(joint())
    n = 6000
    drawn: dict[tuple, int] = {}
    for i in range(n):
        pattern = table.draw(7, f"task-{i}")
        drawn[pattern] = drawn.get(pattern, 0) + 1
    total = sum(COUNTS.values())
    for flags, count in COUNTS.items():
        p = count / total
        tolerance = 4 * (p * (1 - p) / n) ** 0.5  # four standard errors
        assert abs(drawn.get(tuple(map(bool, flags)), 0) / n - p) < tolerance, flags
    assert set(drawn) == {tuple(map(bool, f)) for f in COUNTS}  # no pattern the table lacks
    assert table.draw(7, "task-1") == table.draw(7, "task-1")  # seeded


def test_every_line_of_a_task_reads_the_same_pattern():
    oracle = Oracle(spec(300, trace=None), CATALOGUE)
    for i in range(300):
        ask = [{"role": "user", "content": f"fix tests/test_t{i}.py::test_x"}]
        decisions = [
            oracle.respond(m, {"model": m.id, "max_tokens": 4000, "tools": [EDITOR_TOOL], "messages": ask})[1]
            for m in (HAIKU, SONNET, OPUS)
        ]
        patterns = {tuple(d["oracle"]["pattern"]) for d in decisions}
        assert len(patterns) == 1
        flags = patterns.pop()
        assert [d["oracle"]["success"] for d in decisions] == [bool(f) for f in flags]


def test_a_resolving_line_fixes_on_the_first_attempt_only_and_a_failing_one_never():
    oracle = Oracle(spec(40, trace=None), CATALOGUE)
    for i in range(40):
        body = {"model": "x", "max_tokens": 4000, "tools": [EDITOR_TOOL],
                "messages": [{"role": "user", "content": f"fix tests/test_t{i}.py::test_x"}]}  # fmt: skip
        first = oracle.respond(SONNET, body)[1]["oracle"]
        second = oracle.respond(SONNET, body)[1]["oracle"]
        assert first["success"] == first["resolves"] and second["success"] is False


def test_joint_table_errors_name_the_field():
    with pytest.raises(ConfigError, match="patterns\\[0\\].resolved"):
        JointTable.parse({"lines": ["haiku", "opus"], "patterns": [{"resolved": [1], "weight": 2}]})
    with pytest.raises(ConfigError, match="positive weight"):
        JointTable.parse({"lines": ["haiku"], "patterns": [{"resolved": [1], "weight": 0}]})
    with pytest.raises(ConfigError, match="oracle.success"):
        Oracle({"seed": 1, "tasks": []}, CATALOGUE)


# -- token traces --------------------------------------------------------------------------------


def test_turn_counts_cover_ten_to_forty_evenly():
    trace = TraceSpec()
    turns = [trace.attempt(1, f"t{i}", "claude-haiku-4-5", 1).turns for i in range(4000)]
    assert min(turns) == 10 and max(turns) == 40
    assert statistics.fmean(turns) == pytest.approx(25, abs=0.6)
    assert len(set(turns)) == 31  # every length in the range occurs
    steps = [trace.attempt(1, f"t{i}", "m", 1).step_tokens for i in range(2000)]
    assert 1500 <= min(steps) and max(steps) <= 3500


def test_trace_spec_checks_its_fields():
    assert TraceSpec.parse(None) is None and TraceSpec.parse(True) == TraceSpec()
    assert TraceSpec.parse({"turns": [3, 5]}).turns == (3, 5)
    for bad in ({"turns": [1, 5]}, {"turns": [9, 4]}, {"steps": [1, 2]}, "yes"):
        with pytest.raises(ConfigError, match="oracle.trace"):
            TraceSpec.parse(bad)


def run_attempt(sim, model_id: str, messages: list[dict], cache: bool = True, limit: int = 60) -> list:
    """The runner's provider in a tool loop, answering each view with a one-line result, until the
    model ends its turn. Returns the usage of every call."""
    provider = sim.provider()
    model = Catalog.static().get(model_id)
    usages = []
    for _ in range(limit):
        request = ModelRequest(model=model, system="You fix bugs.", messages=messages, max_tokens=4000,
                               tools=[EDITOR_TOOL], cache=cache)  # fmt: skip
        done = provider.complete(request)
        usages.append(done.usage)
        messages.append({"role": "assistant", "content": done.content})
        uses = [b for b in done.content if b["type"] == "tool_use"]
        if not uses:
            return usages
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": u["id"], "content": "1  def add(a, b): return a - b"}
            for u in uses]})  # fmt: skip
    raise AssertionError("the trace never ended")


def prompt_tokens(u) -> int:
    return u.input_tokens + u.cache_write_tokens + u.cache_read


def test_a_traced_attempt_grows_its_context_and_reads_its_prefix_from_cache(sim):
    sim.set_script({"oracle": spec()})
    messages = [{"role": "user", "content": [{"type": "text", "text": "Fix tests/test_t0.py::test_x."}]}]
    usages = run_attempt(sim, "claude-sonnet-4-6", messages)
    contexts = [prompt_tokens(u) for u in usages]
    assert 10 <= len(usages) <= 40
    assert contexts[1] >= 10_000 and contexts == sorted(contexts)  # grows every turn from ~10K
    assert contexts[-1] >= 10_000 + 1_500 * (len(usages) - 3)
    reads = sum(u.cache_read for u in usages)
    assert reads / sum(contexts) > 0.7  # each turn reads the turn before it
    # Every call after the first reads exactly the prefix the call before it wrote.
    for before, after in zip(usages, usages[1:], strict=False):
        assert after.cache_read == prompt_tokens(before) - before.input_tokens


def test_without_breakpoints_nothing_is_read(sim):
    sim.set_script({"oracle": spec()})
    messages = [{"role": "user", "content": [{"type": "text", "text": "Fix tests/test_t0.py::test_x."}]}]
    usages = run_attempt(sim, "claude-sonnet-4-6", messages, cache=False)
    assert len(usages) >= 10 and sum(u.cache_read + u.cache_write_tokens for u in usages) == 0


def test_a_changed_prefix_is_not_read(sim):
    sim.set_script({"oracle": spec(trace={"turns": [6, 6]})})
    first = [{"role": "user", "content": [{"type": "text", "text": "Fix tests/test_t0.py::test_x."}]}]
    usages = run_attempt(sim, "claude-sonnet-4-6", first)
    assert usages[-1].cache_read > 10_000
    # The same conversation with its first message changed: nothing past the system prompt matches.
    changed = [dict(m) for m in first[:-1]]
    changed[0] = {"role": "user", "content": [{"type": "text", "text": "Fix tests/test_t0.py::test_x!"}]}
    again = sim.provider().complete(ModelRequest(
        model=Catalog.static().get("claude-sonnet-4-6"), system="You fix bugs.", messages=changed,
        max_tokens=4000, tools=[EDITOR_TOOL]))  # fmt: skip
    assert again.usage.cache_read < 1_000 < again.usage.cache_write_tokens
