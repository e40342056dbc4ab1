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


class _GitCalls:
    """Counts the git processes GitPython starts (each call still runs)."""

    def __init__(self, monkeypatch):
        import git

        self.argv: list[list[str]] = []
        real = git.cmd.Git.execute

        def execute(git_self, command, *args, **kwargs):
            self.argv.append([str(a) for a in command])
            return real(git_self, command, *args, **kwargs)

        monkeypatch.setattr(git.cmd.Git, "execute", execute)

    def named(self, word: str) -> int:
        return sum(1 for argv in self.argv if word in argv)


def test_what_depends_only_on_the_base_and_a_tree_is_asked_of_git_once(tmp_path, monkeypatch):
    root = make_repo(tmp_path, CALC_FILES)
    with Workspace.create(root, "once") as ws:
        (ws.path / "calc" / "ops.py").write_text("def add(a, b):\n    return a + b\n")
        tree = ws.tree_hash()
        calls = _GitCalls(monkeypatch)
        for _ in range(2):
            assert ws.changed_files(tree) == ["calc/ops.py"]
            assert "+    return a + b" in ws.diff(tree)
            assert "+    return a + b" in ws.true_diff(tree)
            assert ws.read_base("calc/ops.py") == CALC_FILES["calc/ops.py"].encode()
            assert "calc/ops.py" in ws.base_paths()
        assert (calls.named("diff-tree"), calls.named("diff"), calls.named("cat-file")) == (1, 2, 1)
        assert calls.named("ls-tree") == 1
        # A new state is a new tree: asked again, and answered for that state.
        (ws.path / "new.py").write_text("x = 1\n")
        assert ws.changed_files(ws.tree_hash()) == ["calc/ops.py", "new.py"]
        assert calls.named("diff-tree") == 2


def test_a_commit_of_an_unchanged_judged_tree_neither_restores_nor_asks_for_head(tmp_path, monkeypatch):
    root = make_repo(tmp_path, CALC_FILES)
    with Workspace.create(root, "unchanged") as ws:
        (ws.path / "calc" / "ops.py").write_text("def add(a, b):\n    return a + b\n")
        judged = ws.tree_hash()
        calls = _GitCalls(monkeypatch)
        sha = ws.commit("fix", paths=["calc/ops.py"], tree=judged)
        assert calls.named("read-tree") == 0 and calls.named("rev-parse") == 0
        assert sha == git(root, "rev-parse", ws.branch).strip()
        assert git(root, "show", "--name-only", "--format=", sha).split() == ["calc/ops.py"]
        ws.committed = False  # keep the branch out of the way of the next test's cleanup
