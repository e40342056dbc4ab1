"""The benchmark corpus: its shape for every task, and a real pytest + ruff proof of a sample.

The full proof of every task is `python -m bench.corpus --check` (minutes); here a fixed sample of
four tasks keeps the suite fast.
"""

import ast
import shutil
import subprocess
from collections import Counter

import pytest
import yaml

from bench.corpus import (  # noqa: E402
    ID_PATTERN,
    KINDS,
    CorpusError,
    apply_edits,
    check_task,
    load_corpus,
    load_task,
    materialize,
)

TASKS = load_corpus()
BY_ID = {t.id: t for t in TASKS}
# One of each flavour that matters to the checker: multi-file, lint-only, and two single-file bugs.
SAMPLE = ["config-merge-nested", "lint-bare-except", "webhook-retry-swallow", "lru-cache-recency"]


def test_corpus_size_and_mix():
    assert len(TASKS) >= 30
    kinds = Counter(t.kind for t in TASKS)
    assert kinds["multi-file"] >= 4 and kinds["lint-only"] >= 4
    assert set(kinds) <= KINDS and len(kinds) >= 6
    difficulties = [t.difficulty for t in TASKS]
    assert min(difficulties) <= 0.15 and max(difficulties) >= 0.7


def test_ids_unique_and_custom_id_safe():
    ids = [t.id for t in TASKS]
    assert len(ids) == len(set(ids))
    assert all(ID_PATTERN.match(i) for i in ids)
    assert all(t.repo_dir.name == "repo" and t.repo_dir.parent.name == t.id for t in TASKS)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_shape(task, tmp_path):
    """Cheap checks on every task: the node ids exist, and each edit list applies uniquely."""
    if task.kind == "lint-only":
        assert task.tests == [] and task.lint
    else:
        assert task.tests and not task.lint
    for node in task.tests:
        path, _, name = node.partition("::")
        tree = ast.parse((task.repo_dir / path).read_text())
        assert name in {f.name for f in tree.body if isinstance(f, ast.FunctionDef)}, node
    assert task.files == len({e["path"] for e in task.fix})
    assert task.title and "\n" not in task.title and 0 < len(task.text.splitlines()) <= 4
    for i, edits in enumerate([task.fix, *task.wrong]):
        copy = shutil.copytree(task.repo_dir, tmp_path / str(i))
        apply_edits(copy, edits)
    entry = task.oracle_entry()
    assert entry["id"] == task.id and entry["fix"] == task.fix and len(entry["wrong"]) == len(task.wrong)


@pytest.mark.parametrize("task_id", SAMPLE)
def test_sample_tasks_are_sound(task_id):
    assert check_task(BY_ID[task_id]) == []


def test_checker_catches_a_broken_task(tmp_path):
    task_dir = shutil.copytree(BY_ID["invoice-discount"].repo_dir.parent, tmp_path / "invoice-discount")
    raw = yaml.safe_load((task_dir / "task.yml").read_text())
    raw["tests"].append("tests/test_invoice.py::test_subtotal")  # passes at base: not a target
    raw["wrong"] = [raw["fix"]]  # the "wrong" fix is the right one
    raw["fix"] = [{"path": "invoicing/invoice.py", "old_str": "Decimal", "new_str": "Decimal"}]  # not unique
    (task_dir / "task.yml").write_text(yaml.safe_dump(raw))
    problems = check_task(load_task(task_dir))
    assert any("test_subtotal does not fail at base" in p for p in problems)
    assert any("wrong[0] passes every test" in p for p in problems)
    assert any(p.startswith("fix does not apply: old_str matches") for p in problems)


def test_load_rejects_bad_task(tmp_path):
    task_dir = shutil.copytree(BY_ID["text-wrap-width"].repo_dir.parent, tmp_path / "bad id!")
    with pytest.raises(CorpusError, match="id must match"):
        load_task(task_dir)
    task_dir = shutil.copytree(BY_ID["text-wrap-width"].repo_dir.parent, tmp_path / "text-wrap-width")
    raw = yaml.safe_load((task_dir / "task.yml").read_text())
    raw["kind"] = "typo"
    (task_dir / "task.yml").write_text(yaml.safe_dump(raw))
    with pytest.raises(CorpusError, match="kind 'typo'"):
        load_task(task_dir)


def test_materialize_makes_a_clean_git_repo(tmp_path):
    task = BY_ID["paginator-last-page"]
    root = materialize(task, tmp_path / "work")

    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout

    assert git("status", "--porcelain") == ""
    assert git("rev-list", "--count", "HEAD").strip() == "1"
    assert git("config", "--local", "user.email").strip() == "bench@escalate.invalid"
    assert (root / "paginate" / "pages.py").read_text() == (
        task.repo_dir / "paginate" / "pages.py"
    ).read_text()
    assert not list(root.rglob("__pycache__"))
