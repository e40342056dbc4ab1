"""The record types live in records/types.py, below the packages that make and render them."""

import ast
from decimal import Decimal
from pathlib import Path

import escalate
from escalate.records.types import AttemptRecord, Decision, Outcome

SRC = Path(escalate.__file__).parent
HIGHER = ("escalate.routing", "escalate.roles", "escalate.ladder", "escalate.github", "escalate.batch",
          "escalate.cli")  # fmt: skip


def imported(path: Path) -> set[str]:
    """Every module a file imports, at the top, in a function or under TYPE_CHECKING."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_records_and_agent_import_no_higher_layer():
    for path in [*sorted((SRC / "records").glob("*.py")), *sorted((SRC / "agent").glob("*.py"))]:
        wrong = sorted(m for m in imported(path) if m.startswith(HIGHER))
        assert not wrong, f"{path.relative_to(SRC)} imports {wrong}"


def test_ladder_run_reexports_no_record_type():
    import escalate.ladder.run as run

    assert not hasattr(run, "__all__") or not {"Outcome", "AttemptRecord"} & set(run.__all__)


def test_outcome_json_is_the_documented_object_and_keeps_renderer_fields_out():
    out = Outcome(
        "fixed",
        attempts=[AttemptRecord("haiku", "m", 1, "pass", "ok", "passed", Decimal("0.25"))],
        decisions=[Decision("baseline", "targets", "why")],
        targets=["tests/test_a.py::test_x"],
        top_model="opus-model",
        top_model_cost_usd=Decimal("1.5"),
    )
    data = out.to_json()
    assert data["decisions"] == [{"kind": "baseline", "choice": "targets", "reason": "why"}]
    assert data["attempts"][0]["cost_usd"] == 0.25
    assert set(data) == {"outcome", "branch", "commit", "cost_usd", "calls", "attempts", "decisions",
                         "log_dir", "explanation", "cost_by_role", "reproduction",
                         "no_test_reason", "sandbox", "discarded"}  # fmt: skip
    assert data["sandbox"] == {"mode": "none", "warning": None}
