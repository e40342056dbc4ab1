"""One-shot mode: the request carries the code under test; a response's edits apply in order or not at all."""

from __future__ import annotations

from samplerepo import CALC_FIX, CALC_TARGET, make_calc_repo

from escalate.agent.editor import Editor
from escalate.batch.oneshot import apply_response, build_request
from escalate.config import load_config
from escalate.llm.catalog import Catalog
from escalate.llm.providers.anthropic import build_params
from escalate.routing.route import route
from escalate.task import Task

OUTPUT = (
    "def test_add():\n>       assert add(2, 3) == 5\nE       assert -1 == 5\n\n"
    "tests/test_ops.py:5: AssertionError"
)


def _edit(**tool_input) -> dict:
    return {"type": "tool_use", "id": f"toolu_{len(tool_input)}", "name": "str_replace_based_edit_tool",
            "input": tool_input}  # fmt: skip


def test_the_request_carries_the_code_under_test_and_only_the_editor(tmp_path):
    root = make_calc_repo(tmp_path)
    config = load_config(root)
    task = Task(
        kind="test", title="test_add fails", text="fails", target_tests=[CALC_TARGET], slug="test-ops"
    )
    plan = route(task, None, config, Catalog.static())
    request = build_request(task, root, plan.tiers[0], Editor(root), {CALC_TARGET: OUTPUT}, 4096)
    request.cache = False
    params = build_params(request)
    assert [t["name"] for t in params["tools"]] == ["str_replace_based_edit_tool"]  # no helper can answer
    context, ask = (b["text"] for b in params["messages"][0]["content"])
    # The test only imports `calc`; the one-shot context follows that import to the code under test.
    assert "### calc/ops.py" in context and "return a - b" in context and "assert -1 == 5" in context
    assert "in this one response" in ask and CALC_TARGET in ask
    assert "ONE-SHOT" in params["system"][0]["text"]
    assert "cache_control" not in str(params)
    # The default first tier is Haiku 4.5, which rejects effort: llm's rules apply here too.
    assert plan.tiers[0].model.id == "claude-haiku-4-5" and not plan.tiers[0].model.capabilities.effort_levels
    assert "output_config" not in params


def test_edits_apply_in_order_and_views_are_skipped(tmp_path):
    root = make_calc_repo(tmp_path)
    applied = apply_response(
        [
            {"type": "text", "text": "add() subtracted."},
            _edit(command="view", path="calc/ops.py"),
            _edit(command="str_replace", **CALC_FIX),
            # Written against the file as the first edit left it.
            _edit(command="str_replace", path="calc/ops.py", old_str="return a + b", new_str="return b + a"),
        ],
        Editor(root),
    )
    assert applied.ok and applied.edits == 2 and applied.changed == ["calc/ops.py"]
    assert applied.explanation == "add() subtracted."
    assert "def add(a, b):\n    return b + a" in (root / "calc/ops.py").read_text()


def test_one_bad_edit_fails_the_response_and_stops_the_rest(tmp_path):
    root = make_calc_repo(tmp_path)
    applied = apply_response(
        [
            _edit(command="create", path="../escaped.py", file_text="x = 1\n"),
            _edit(command="str_replace", **CALC_FIX),
        ],
        Editor(root),
    )
    assert not applied.ok and applied.edits == 0
    assert applied.errors[0].startswith("create ../escaped.py: Error:")
    assert applied.errors[1] == "not attempted after the error above: str_replace calc/ops.py"
    assert not (tmp_path / "escaped.py").exists() and "return a - b" in (root / "calc/ops.py").read_text()

    other = apply_response([_edit(command="str_replace", path="calc/ops.py", old_str="nope", new_str="x")],
                           Editor(root))  # fmt: skip
    assert "did not appear verbatim" in other.errors[0]
    assert apply_response([{"type": "text", "text": "Looks fine."}], Editor(root)).errors == [
        "the response made no edits"
    ]
    foreign = {"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "ls"}}
    assert apply_response([foreign], Editor(root)).errors == ["bash: not available in one-shot mode"]
