import json
import subprocess
import sys
from pathlib import Path

import pytest
from samplerepo import CALC_FILES, git, make_calc_repo, make_repo, snapshot

from escalate.errors import EscalateError
from escalate.workspace.worktree import Workspace, WorkspaceError, ignore_log_dir, safe_slug


def dirty(root: Path) -> None:
    """Leave the user's checkout with staged, unstaged and untracked changes and a stash."""
    (root / "calc/ops.py").write_text("# stashed\n")
    git(root, "stash", "-q")
    (root / "calc/ops.py").write_text("# staged change\n" + CALC_FILES["calc/ops.py"])
    git(root, "add", "calc/ops.py")
    (root / "calc/ops.py").write_text("# unstaged on top\n" + CALC_FILES["calc/ops.py"])
    (root / "notes.txt").write_text("untracked\n")
    (root / "build").mkdir()
    (root / "build" / "x.pyc").write_bytes(b"\0ignored? no: untracked dir")


def test_user_checkout_is_untouched_byte_for_byte(tmp_path):
    root = make_calc_repo(tmp_path)
    dirty(root)
    before = snapshot(root)
    status_before = git(root, "status", "--porcelain=v2", "--branch")
    with Workspace.create(root, "fix-test-add") as ws:
        (ws.path / "calc/ops.py").write_text("def add(a, b):\n    return a + b\n")
        (ws.path / "new_module.py").write_text("X = 1\n")
        ws.tree_hash()
        ws.diff()
        ws.commit("fix add")
        ws.reset_to_base()
    assert snapshot(root) == before
    assert git(root, "status", "--porcelain=v2", "--branch") == status_before
    assert git(root, "stash", "list").count("\n") == 1
    assert (root / ".git/index").exists() and ".git/index" in before


def test_worktree_is_outside_the_checkout_on_a_new_branch_from_head(tmp_path):
    root = make_calc_repo(tmp_path)
    head = git(root, "rev-parse", "HEAD").strip()
    with Workspace.create(root, "Fix Test: add!") as ws:
        assert ws.branch == "escalate/fix-test-add"
        assert ws.base_commit == head
        assert root.resolve() not in ws.path.parents
        assert (ws.path / "calc/ops.py").read_text() == CALC_FILES["calc/ops.py"]
        assert git(ws.path, "rev-parse", "--abbrev-ref", "HEAD").strip() == ws.branch
        path = ws.path
    assert not path.exists()
    assert "escalate/" not in git(root, "branch", "--list")
    assert str(path) not in git(root, "worktree", "list")


def test_existing_branch_gets_a_numeric_suffix_and_is_not_clobbered(tmp_path):
    root = make_calc_repo(tmp_path)
    git(root, "branch", "escalate/fix-it")
    old = git(root, "rev-parse", "escalate/fix-it").strip()
    with Workspace.create(root, "fix-it") as a, Workspace.create(root, "fix-it") as b:
        assert (a.branch, b.branch) == ("escalate/fix-it-2", "escalate/fix-it-3")
        assert a.path != b.path
    assert git(root, "rev-parse", "escalate/fix-it").strip() == old


def test_base_can_be_another_commit(tmp_path):
    root = make_calc_repo(tmp_path)
    first = git(root, "rev-parse", "HEAD").strip()
    (root / "later.txt").write_text("later\n")
    git(root, "add", "later.txt")
    git(root, "commit", "-q", "-m", "later")
    with Workspace.create(root, "old", base=first) as ws:
        assert ws.base_commit == first
        assert not (ws.path / "later.txt").exists()


def test_errors_say_how_to_fix(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(EscalateError, match="not inside a git repository"):
        Workspace.create(plain, "x")
    empty = make_repo(tmp_path, {"a.txt": "a"}, commit=False, name="empty")
    with pytest.raises(WorkspaceError, match="make a first commit"):
        Workspace.create(empty, "x")
    root = make_calc_repo(tmp_path)
    with pytest.raises(WorkspaceError, match="no-such-ref"):
        Workspace.create(root, "x", base="no-such-ref")


def test_close_runs_on_exceptions_and_is_idempotent(tmp_path):
    root = make_calc_repo(tmp_path)
    with pytest.raises(RuntimeError):
        with Workspace.create(root, "boom") as ws:
            raise RuntimeError("attempt crashed")
    assert ws.closed and not ws.path.exists()
    ws.close()
    ws.close(keep_branch=True)
    assert "escalate/boom" not in git(root, "branch", "--list")


def test_committed_branch_is_kept_and_uncommitted_dropped(tmp_path):
    root = make_calc_repo(tmp_path)
    with Workspace.create(root, "keep") as ws:
        (ws.path / "calc/ops.py").write_text("def add(a, b):\n    return a + b\n")
        sha = ws.commit("Fix add\n\nIt subtracted.")
    assert git(root, "rev-parse", "escalate/keep").strip() == sha
    assert git(root, "log", "-1", "--format=%an <%ae>|%s|%b", sha).strip() == (
        "Sample Author <sample@example.com>|Fix add|It subtracted."
    )
    assert git(root, "show", "--name-only", "--format=", sha).split() == ["calc/ops.py"]
    ws2 = Workspace.create(root, "drop")
    ws2.close(keep_branch=False)
    assert "escalate/drop" not in git(root, "branch", "--list")
    ws3 = Workspace.create(root, "kept-explicitly")
    ws3.close(keep_branch=True)
    assert "escalate/kept-explicitly" in git(root, "branch", "--list")


def test_commit_falls_back_to_escalate_author_and_refuses_empty(tmp_path, monkeypatch):
    root = make_calc_repo(tmp_path)
    git(root, "config", "--unset", "user.name")
    git(root, "config", "--unset", "user.email")
    # Keep git away from the machine's global/system identity for this test.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    with Workspace.create(root, "anon") as ws:
        with pytest.raises(WorkspaceError, match="nothing to commit"):
            ws.commit("empty")
        (ws.path / "NEW.md").write_text("new\n")
        sha = ws.commit("add notes")
        assert git(ws.path, "log", "-1", "--format=%an <%ae>", sha).strip() == "escalate <escalate@localhost>"


def test_tree_hash_tracks_content_including_untracked_and_leaves_index_alone(tmp_path):
    root = make_calc_repo(tmp_path)
    with Workspace.create(root, "hash") as ws:
        index = Path(git(ws.path, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
        index_before = index.read_bytes()
        base = ws.tree_hash()
        assert base == git(root, "rev-parse", "HEAD^{tree}").strip()
        (ws.path / "extra.py").write_text("X = 1\n")
        with_extra = ws.tree_hash()
        assert with_extra != base
        (ws.path / "calc/ops.py").write_text("changed\n")
        changed = ws.tree_hash()
        assert changed not in (base, with_extra)
        (ws.path / "calc/ops.py").write_text(CALC_FILES["calc/ops.py"])
        assert ws.tree_hash() == with_extra  # A -> B -> A: the same state hashes the same
        (ws.path / "extra.py").unlink()
        assert ws.tree_hash() == base
        (ws.path / "__pycache__").mkdir()
        (ws.path / "__pycache__/x.pyc").write_bytes(b"ignored")
        assert ws.tree_hash() == base  # ignored files do not count
        assert index.read_bytes() == index_before
        assert git(ws.path, "diff", "--cached", "--name-only") == ""


def test_changed_files_diff_and_reset(tmp_path):
    root = make_calc_repo(tmp_path)
    with Workspace.create(root, "changes") as ws:
        assert ws.changed_files() == [] and ws.diff() == ""
        (ws.path / "calc/ops.py").write_text(CALC_FILES["calc/ops.py"].replace("a - b", "a + b", 1))
        (ws.path / "calc/new.py").write_text("NEW = True\n")
        (ws.path / "tests/test_ops.py").unlink()
        (ws.path / "__pycache__").mkdir()
        (ws.path / "__pycache__/junk.pyc").write_bytes(b"x")
        assert ws.changed_files() == ["calc/new.py", "calc/ops.py", "tests/test_ops.py"]
        assert [(c.path, c.status) for c in ws.changes()] == [
            ("calc/new.py", "A"),
            ("calc/ops.py", "M"),
            ("tests/test_ops.py", "D"),
        ]
        diff = ws.diff()
        assert "+    return a + b" in diff and "-    return a - b" in diff
        assert "new file mode" in diff and "+NEW = True" in diff
        assert "deleted file mode" in diff
        # The patch applies cleanly to the base: it is the whole change.
        patch = tmp_path / "p.diff"
        patch.write_text(diff)
        check = subprocess.run(
            ["git", "apply", "--check", str(patch)], cwd=root, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stderr
        ws.reset_to_base()
        assert ws.changed_files() == []
        assert not (ws.path / "calc/new.py").exists() and not (ws.path / "__pycache__").exists()
        assert (ws.path / "tests/test_ops.py").exists()


def test_reset_after_commit_goes_back_to_base(tmp_path):
    root = make_calc_repo(tmp_path)
    with Workspace.create(root, "reset") as ws:
        (ws.path / "a.txt").write_text("a\n")
        ws.commit("a")
        ws.reset_to_base()
        assert git(ws.path, "rev-parse", "HEAD").strip() == ws.base_commit
        assert ws.changed_files() == []


CRASH = (
    "import os, sys\n"
    "from escalate.workspace.worktree import Workspace\n"
    "a = Workspace.create(sys.argv[1], 'crashed')\n"
    "b = Workspace.create(sys.argv[1], 'crashed-with-work')\n"
    "open(os.path.join(b.path, 'w.txt'), 'w').write('work')\n"
    "b.commit('work in progress')\n"
    "print(a.path); print(b.path)\n"
    "os._exit(9)\n"
)


def crash_a_run(root: Path) -> list[Path]:
    """A run that dies without closing: two workspaces (one with a commit) left behind.

    os._exit skips atexit hooks and finally blocks, like kill -9.
    """
    proc = subprocess.run([sys.executable, "-c", CRASH, str(root)], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    dead = [Path(p) for p in proc.stdout.split()]
    assert all(p.exists() for p in dead)
    return dead


def test_cleanup_stale_removes_worktrees_of_dead_runs_only(tmp_path):
    root = make_calc_repo(tmp_path)
    with Workspace.create(root, "alive") as live:
        dead = crash_a_run(root)
        removed = Workspace.cleanup_stale(root)
        assert sorted(removed) == sorted(dead)
        assert not any(p.exists() for p in dead)
        assert live.path.exists() and str(live.path) in git(root, "worktree", "list")
        branches = git(root, "branch", "--list").split()
        # The crashed run's commit is kept for inspection; its empty branch is not.
        assert "escalate/crashed" not in branches and "escalate/crashed-with-work" in branches
    assert Workspace.cleanup_stale(root) == []


def test_the_next_run_cleans_up_after_a_killed_one(tmp_path):
    root = make_calc_repo(tmp_path)
    dead = crash_a_run(root)
    with Workspace.create(root, "next") as ws:
        assert not any(p.exists() for p in dead)
        listed = git(root, "worktree", "list")
        assert str(ws.path) in listed and not any(str(p) in listed for p in dead)


def test_cleanup_stale_handles_a_deleted_worktree_dir(tmp_path):
    root = make_calc_repo(tmp_path)
    ws = Workspace.create(root, "gone")
    import shutil

    shutil.rmtree(ws.path)
    ws.closed = True  # pretend this process lost track of it
    assert Workspace.cleanup_stale(root) == [ws.path]
    assert str(ws.path) not in git(root, "worktree", "list")


def test_hooks_of_the_user_do_not_run(tmp_path):
    root = make_calc_repo(tmp_path)
    marker = tmp_path / "hook-ran"
    for hook in ("post-checkout", "pre-commit", "commit-msg"):
        path = root / ".git/hooks" / hook
        path.write_text(f"#!/bin/sh\necho {hook} >> {marker}\nexit 1\n")
        path.chmod(0o755)
    with Workspace.create(root, "hooks") as ws:
        (ws.path / "a.txt").write_text("a\n")
        ws.commit("a")
    assert not marker.exists()


def test_ignore_log_dir_hides_logs_without_touching_tracked_files(tmp_path):
    root = make_calc_repo(tmp_path)
    tracked_before = snapshot(root)
    log_dir = ignore_log_dir(root)
    (log_dir / "runs").mkdir()
    (log_dir / "runs" / "calls.jsonl").write_text("{}\n")
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""
    after = snapshot(root)
    assert {k: v for k, v in after.items() if not k.startswith(".escalate/")} == tracked_before
    ignore_log_dir(root)  # idempotent
    assert (log_dir / ".gitignore").read_text().splitlines()[-1] == "*"


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("fix-test-add", "fix-test-add"),
        ("../..", "task"),
        ("a b/c:d", "a-b-c-d"),
        ("x.lock", "x"),
        ("-.x", "x"),
    ],
)
def test_safe_slug(slug, expected):
    assert safe_slug(slug) == expected


def test_tree_hash_sees_same_size_edits_made_right_after_checkout(tmp_path):
    # Racy git: an edit within the index's mtime granularity and of equal size must still count.
    root = make_calc_repo(tmp_path)
    with Workspace.create(root, "racy") as ws:
        seen = {ws.tree_hash()}
        for n in range(10):
            (ws.path / "calc/ops.py").write_text(CALC_FILES["calc/ops.py"].replace("a - b", f"a - {n}", 1))
            seen.add(ws.tree_hash())
        assert len(seen) == 11


def test_a_bare_repository_is_refused_with_advice(tmp_path):
    root = make_calc_repo(tmp_path)
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(root), str(bare))
    with pytest.raises(WorkspaceError, match="bare repository"):
        Workspace.create(bare, "x")


def test_a_worktree_left_at_exit_that_cannot_be_removed_is_reported(tmp_path, monkeypatch, capsys):
    from escalate.workspace import worktree as workspace

    root = make_calc_repo(tmp_path)
    ws = Workspace.create(root, "fix-test-add")

    def fails(keep_branch=False):
        raise WorkspaceError("disk on fire")

    monkeypatch.setattr(ws, "close", fails)
    workspace._close_open_workspaces()
    assert f"could not remove the worktree {ws.path} at exit (WorkspaceError: disk on fire)" in (
        capsys.readouterr().err
    )
    monkeypatch.undo()
    ws.close()


def test_escalates_commits_start_no_git_maintenance_and_leave_the_users_config(tmp_path, monkeypatch):
    # `git commit` starts `git maintenance run --auto` after every commit unless told not to: a process
    # the user waits for, and a repack of their repository when its thresholds are met.
    root = make_calc_repo(tmp_path)
    trace = tmp_path / "trace2.json"
    monkeypatch.setenv("GIT_TRACE2_EVENT", str(trace))
    with Workspace.create(root, "fix-add") as ws:
        (ws.path / "calc/ops.py").write_text("def add(a, b):\n    return a + b\n")
        first = ws.commit("fix add")
        (ws.path / "calc/ops.py").write_text("def add(a, b):\n    return b + a\n")
        second = ws.commit("again")
    with Workspace.create(root, "gather") as ws:
        assert ws.cherry_pick(second) is False  # its parent's change is missing: a conflict, aborted
        assert ws.cherry_pick(first) is True
    monkeypatch.delenv("GIT_TRACE2_EVENT")
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    argvs = [e["argv"] for e in events if e["event"] in ("start", "child_start")]
    assert sum("commit" in argv for argv in argvs) == 2 and any("cherry-pick" in a for a in argvs)  # traced
    assert not [argv for argv in argvs if "maintenance" in argv or "gc" in argv]
    assert subprocess.run(["git", "config", "--get", "maintenance.auto"], cwd=root).returncode == 1
