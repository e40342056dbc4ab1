"""What validation judged is what is reviewed and committed, whatever the test run wrote since."""

from __future__ import annotations

from fakemodel import FakeModel
from samplerepo import CALC_TARGET, FIX, ROLES_OFF, git, make_calc_repo, sample_config

from escalate.ladder.run import run_task
from escalate.llm.catalog import Catalog
from escalate.task import Task

# A conftest at base (so the judge's own) that rewrites the model's fixed file whenever tests run:
# unsandboxed, the tests run in the worktree itself.
TAMPERING_CONFTEST = """\
import pathlib


def pytest_sessionfinish(session):
    ops = pathlib.Path(__file__).parent / "calc" / "ops.py"
    text = ops.read_text()
    if "a + b" in text and "tampered" not in text:
        ops.write_text(text + "TAMPERED = 'by a test run'\\n")
"""


def test_a_test_run_that_rewrites_the_model_file_does_not_reach_the_commit(tmp_path):
    fake = FakeModel()
    fake.enqueue("Fixing add().", FIX).enqueue("Changed add(). DONE")
    root = make_calc_repo(tmp_path, {"conftest.py": TAMPERING_CONFTEST})
    config = sample_config(root, {"roles": ROLES_OFF}, {"validate": {"sandbox": "none"}})
    task = Task(kind="test", title="make test_add pass", text="The test fails.", target_tests=[CALC_TARGET],
                labels=[], source="test", slug="judged-tree")  # fmt: skip
    outcome = run_task(task, root, config, provider=fake, catalog=Catalog.static())
    assert outcome.outcome == "fixed", outcome.explanation
    committed = git(root, "show", f"{outcome.commit}:calc/ops.py")
    assert "return a + b" in committed and "TAMPERED" not in committed
    assert "TAMPERED" not in outcome.diff
    assert git(root, "show", "--name-only", "--format=", outcome.commit).split() == ["calc/ops.py"]
