"""The worktree holds what the package needs to import, puts the base back for a re-run, and
commits the model's files only."""

from samplerepo import CALC_FILES, git, make_repo

from escalate.workspace.buildout import python_packages
from escalate.workspace.worktree import Workspace

FILES = {
    **CALC_FILES,
    ".gitignore": "__pycache__/\n*.pyc\ncalc/_version.py\ncalc/*.so\nbuild/\n",
    "src/other/__init__.py": "",
}


def repo_with_build_outputs(tmp_path):
    root = make_repo(tmp_path, FILES)
    (root / "calc/_version.py").write_text("__version__ = '9.9'\n")  # written by the install step
    (root / "calc/_speedups.so").write_bytes(b"\x7fELF fake")
    (root / "calc/__pycache__").mkdir()
    (root / "calc/__pycache__/ops.cpython-311.pyc").write_bytes(b"x")  # bytecode: rebuilt, not copied
    (root / "build").mkdir()
    (root / "build/junk.py").write_text("")  # ignored, but not inside a package
    return root


def test_ignored_importable_files_of_the_packages_are_copied_and_survive_a_reset(tmp_path):
    root = repo_with_build_outputs(tmp_path)
    assert python_packages(root) == ["src/other", "calc"]
    with Workspace.create(root, "t") as ws:
        assert ws.build_outputs == ["calc/_speedups.so", "calc/_version.py"]
        assert (ws.path / "calc/_version.py").read_text() == "__version__ = '9.9'\n"
        assert not (ws.path / "calc/__pycache__").exists() and not (ws.path / "build").exists()
        assert ws.changed_files() == []  # ignored there too: never part of a patch
        ws.reset_to_base()
        assert (ws.path / "calc/_speedups.so").read_bytes() == b"\x7fELF fake"


def test_base_view_sets_changes_aside_and_puts_them_back_byte_for_byte(tmp_path):
    root = make_repo(tmp_path, CALC_FILES)
    with Workspace.create(root, "t") as ws:
        (ws.path / "calc/ops.py").write_text("patched\n")
        (ws.path / "calc/new.py").write_text("new\n")
        (ws.path / "tests/test_ops.py").unlink()
        before = ws.tree_hash()
        with ws.base_view():
            assert (ws.path / "calc/ops.py").read_text() == CALC_FILES["calc/ops.py"]
            assert not (ws.path / "calc/new.py").exists()
            assert (ws.path / "tests/test_ops.py").read_text() == CALC_FILES["tests/test_ops.py"]
            assert ws.changed_files() == []
        assert ws.tree_hash() == before


def test_only_the_model_files_are_kept_and_committed(tmp_path):
    root = make_repo(tmp_path, CALC_FILES)
    with Workspace.create(root, "t") as ws:
        (ws.path / "calc/ops.py").write_text(CALC_FILES["calc/ops.py"].replace("a - b", "a + b", 1))
        (ws.path / "tests/test_ops.py").write_text("# rewritten by a formatter the tests ran\n")
        (ws.path / "snapshot.txt").write_text("written by a test\n")
        assert ws.restore_except({"calc/ops.py"}) == ["snapshot.txt", "tests/test_ops.py"]
        assert ws.changed_files() == ["calc/ops.py"]
        (ws.path / "stray.txt").write_text("written after the last restore\n")
        sha = ws.commit("fix", paths={"calc/ops.py"})
        assert git(root, "show", "--format=", "--name-only", sha).split() == ["calc/ops.py"]
