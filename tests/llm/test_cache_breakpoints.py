"""The runner's cache breakpoints against the sim's prefix cache: each call reads what the call
before it wrote, even after a turn with more tool calls than the API's 20-block lookback spans."""

from __future__ import annotations

from samplerepo import EDITOR_TOOL

from escalate.llm.catalog import Catalog
from escalate.llm.client import ModelRequest

CONTEXT = "# Repository context\n" + "def add(a, b):\n    return a - b\n" * 300  # ~2.4K tokens


def turn(n: int, first: int) -> list[dict]:
    """An assistant turn of ``n`` parallel views and the user turn with their results."""
    ids = [f"toolu_01view{first + i:04d}" for i in range(n)]
    uses = [{"type": "tool_use", "id": i, "name": EDITOR_TOOL["name"],
             "input": {"command": "view", "path": f"m{k}.py"}} for k, i in enumerate(ids)]  # fmt: skip
    results = [{"type": "tool_result", "tool_use_id": i, "content": f"1  x = {k}"} for k, i in enumerate(ids)]
    return [{"role": "assistant", "content": uses}, {"role": "user", "content": results}]


def call(sim, messages: list[dict]):
    request = ModelRequest(model=Catalog.static().get("claude-sonnet-4-6"), system="You fix bugs.",
                           messages=messages, max_tokens=1000, tools=[EDITOR_TOOL])  # fmt: skip
    return sim.provider().complete(request).usage


def test_a_wide_turn_still_reads_the_previous_calls_entry(sim):
    messages = [{"role": "user", "content": [{"type": "text", "text": CONTEXT},
                                             {"type": "text", "text": "Fix calc.add."}]}]  # fmt: skip
    messages += turn(2, 0)
    before = call(sim, messages)
    written = before.cache_read + before.cache_write_tokens
    messages += turn(12, 100)  # 24 new blocks: past the 20-block lookback
    after = call(sim, messages)
    assert after.cache_read == written  # not only the repository context
    assert after.cache_write_tokens < 600  # only the new turn is written
