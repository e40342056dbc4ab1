"""Protected paths on the final change set: patterns (any case), [tool.escalate], symlinks; commits."""

from __future__ import annotations

import pytest
from samplerepo import git, make_calc_repo

from escalate.workspace.protected import ProtectedPaths
from escalate.workspace.worktree import ProtectedPathError, Workspace

DEFAULTS = [".github/**", "**/.gitattributes", ".gitmodules", ".escalate.yml"]


@pytest.mark.parametrize(
    "path, protected",
    [
        (".github/workflows/ci.yml", True),
        (".GitHub/Workflows/pwn.yml", True),
        (".github/CODEOWNERS", True),
        (".GITATTRIBUTES", True),
        ("sub/dir/.gitattributes", True),
        (".gitmodules", True),
        (".Escalate.yml", True),
        ("docs/.escalate.yml", False),
        ("calc/ops.py", False),
    ],
)
def test_patterns_match_in_any_case(path, protected):
    assert ProtectedPaths(DEFAULTS).matches(path) is protected


def test_the_tool_escalate_table_is_protected_and_the_rest_of_pyproject_is_not():
    rules = ProtectedPaths(DEFAULTS)
    base = '[project]\nname = "x"\n\n[tool.escalate.budget]\nmax_cost_usd = 1\n'
    assert rules.reason("pyproject.toml", base.replace('"x"', '"y"'), base) is None
    assert "[tool.escalate]" in rules.reason("pyproject.toml", base.replace("= 1", "= 100"), base)
    assert rules.reason("pyproject.toml", "[tool.escalate]\nx = 1\n", '[project]\nname = "x"\n') is not None


@pytest.fixture
def ws(tmp_path):
    root = make_calc_repo(tmp_path, {".github/workflows/ci.yml": "on: push\n"})
    with Workspace.create(root, "protected") as ws:
        ws.protected = ProtectedPaths(DEFAULTS)
        yield ws


def test_the_final_change_set_is_checked_before_a_commit(ws, tmp_path):
    (ws.path / ".GitHub").mkdir()
    (ws.path / ".GitHub/pwn.yml").write_text("on: push\n")
    (ws.path / "escape").symlink_to(tmp_path)
    (ws.path / "calc/ops.py").write_text("def add(a, b):\n    return a + b\n")
    found = dict(ws.protected_violations())
    assert set(found) == {".GitHub/pwn.yml", "escape"} and "symlink" in found["escape"]
    with pytest.raises(ProtectedPathError, match="protected paths"):
        ws.commit("fix")
    assert git(ws.repo_root, "rev-parse", ws.branch).strip() == ws.base_commit  # nothing committed
    assert sorted(path for path, _ in ws.discard_protected()) == [".GitHub/pwn.yml", "escape"]
    assert ws.changed_files() == ["calc/ops.py"]
    sha = ws.commit("fix")
    assert git(ws.repo_root, "show", "--name-only", "--format=", sha).split() == ["calc/ops.py"]


def test_a_commit_of_a_judged_tree_leaves_out_what_a_test_run_wrote_since(ws):
    (ws.path / "calc/ops.py").write_text("def add(a, b):\n    return a + b\n")
    judged = ws.tree_hash()
    (ws.path / ".github/workflows/ci.yml").write_text("on: push\njobs: {pwn: {}}\n")  # written by a test
    (ws.path / "stray.txt").write_text("from a test run\n")
    sha = ws.commit("fix", tree=judged)
    assert git(ws.repo_root, "show", "--name-only", "--format=", sha).split() == ["calc/ops.py"]


def test_the_true_diff_ignores_the_repository_attributes(tmp_path):
    root = make_calc_repo(tmp_path, {".gitattributes": "*.py -diff\n"})
    with Workspace.create(root, "attrs") as ws:
        (ws.path / "calc/ops.py").write_text("def add(a, b):\n    return a + b\n")
        assert "Binary files" in ws.diff() or "GIT binary patch" in ws.diff()
        true = ws.true_diff()
        assert "+    return a + b" in true and "Binary" not in true
