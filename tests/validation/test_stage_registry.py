"""The validation stages are objects in one list: validation runs it, the PR body and the docs read it."""

from pathlib import Path

from samplerepo import CALC_FILES, make_calc_repo, sample_config

from escalate.config import ValidateConfig
from escalate.github.render import stages as pr_stages
from escalate.validation import Stage
from escalate.validation.stages import STAGES, Verdict, run_baseline, stage_table, validate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "validation.md"


def test_docs_show_the_stage_table_the_registry_makes():
    assert stage_table() in DOCS.read_text(), (
        "docs/validation.md's stage table differs from validation.stages.STAGES; paste in the output of "
        "`python -c 'from escalate.validation.stages import stage_table; print(stage_table())'`"
    )
    assert list(STAGES) == ["syntax", "lint", "target", "suite"]  # cheapest first


def test_the_pr_body_names_the_stages_the_config_runs():
    every = [s.title for s in STAGES.values()]
    assert pr_stages(None) == every
    assert pr_stages(ValidateConfig(ruff=False, full_suite=False)) == ["syntax", "target tests"]


def test_a_stage_added_to_the_registry_is_run_in_order_and_named_in_the_pr(tmp_path, monkeypatch):
    root = make_calc_repo(tmp_path)
    cfg = sample_config(root).validate
    baseline = run_baseline(root, cfg, [])
    seen = []

    def no_todo(attempt):
        seen.append(list(attempt.py_files))
        text = "".join((attempt.root / p).read_text() for p in attempt.py_files)
        if "TODO" in text:
            return Verdict(False, "todo", "a TODO was left in", "Remove the TODO.", "todo")
        return None

    todo = Stage("todo", "no TODOs", "a grep", "a TODO is left", no_todo, applies=lambda a: bool(a.py_files))
    order = dict(STAGES)
    registry = (
        {k: order[k] for k in ("syntax", "lint")}
        | {"todo": todo}
        | {k: order[k] for k in ("target", "suite")}
    )
    monkeypatch.setattr("escalate.validation.stages.STAGES", registry)
    (root / "calc/ops.py").write_text(CALC_FILES["calc/ops.py"] + "# TODO\n")
    verdict = validate(root, ["calc/ops.py"], baseline, [], cfg)
    assert (verdict.passed, verdict.stage, verdict.reason) == (False, "todo", "a TODO was left in")
    assert seen == [["calc/ops.py"]]
    # A stage that fails first stops the later ones: a syntax error never reaches the new stage.
    (root / "calc/ops.py").write_text("def add(:\n# TODO\n")
    assert validate(root, ["calc/ops.py"], baseline, [], cfg).stage == "syntax" and len(seen) == 1
    assert "no TODOs" in pr_stages(cfg)
