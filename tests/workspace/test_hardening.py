"""escalate's own git ignores what a repository plants; escalate's own process is not dumpable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from samplerepo import CALC_FILES, git, make_repo

from escalate.workspace.hardening import git_env, harden_git
from escalate.workspace.worktree import Workspace


def plant(root: Path, loot: Path) -> None:
    """What a conftest could write through the worktree's .git file when tests run unsandboxed."""
    with open(root / ".git" / "config", "a") as fh:
        fh.write(
            f'[filter "pwn"]\n\tclean = sh -c "env > {loot}.clean; cat"\n\tsmudge = cat\n\trequired = true\n'
            f'[diff "pwn"]\n\ttextconv = sh -c "env > {loot}.textconv; cat"\n'
            f"[core]\n\tfsmonitor = {root / 'monitor.sh'}\n"
        )
    (root / "monitor.sh").write_text(f"#!/bin/sh\nenv > {loot}.fsmonitor\n")
    (root / "monitor.sh").chmod(0o755)
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nenv > {loot}.hook\n")
    hook.chmod(0o755)


def test_planted_filters_hooks_and_fsmonitor_never_run(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_never_seen")
    loot = tmp_path / "loot"
    root = make_repo(tmp_path, CALC_FILES)
    ws = Workspace.create(root, "hardening")
    try:
        plant(root, loot)
        (ws.path / ".gitattributes").write_text("* filter=pwn diff=pwn\n")
        (ws.path / "calc" / "ops.py").write_text(CALC_FILES["calc/ops.py"].replace("a - b", "a + b", 1))
        ws.tree_hash()
        diff = ws.diff()
        ws.commit("fix add")
    finally:
        ws.close(keep_branch=True)
    assert not list(tmp_path.glob("loot.*")), [p.name for p in tmp_path.glob("loot.*")]
    assert "return a + b" in diff
    # The commit holds the file as written (no clean filter rewrote it).
    assert "return a + b" in git(root, "show", "escalate/hardening:calc/ops.py")


def test_the_planted_filter_is_real(tmp_path):
    # The control: plain git on the same planted repository runs the filter.
    loot = tmp_path / "loot"
    root = make_repo(tmp_path, CALC_FILES)
    plant(root, loot)
    (root / ".gitattributes").write_text("* filter=pwn\n")
    subprocess.run(["git", "-c", "core.fsmonitor=false", "add", "-A"], cwd=root, check=True)
    assert (tmp_path / "loot.clean").exists()


def test_git_runs_with_secrets_blanked(tmp_path, monkeypatch):
    import git as gitpython

    monkeypatch.setenv("GITHUB_TOKEN", "ghp_never_seen")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw-never-seen@db/app")
    root = make_repo(tmp_path, CALC_FILES)
    repo = gitpython.Repo(root)
    harden_git(repo)
    shown = repo.git.execute(["git", "-c", "alias.showenv=!env", "showenv"])
    assert "ghp_never_seen" not in shown and "pw-never-seen" not in shown
    assert "PATH=" in shown
    assert git_env({"PATH": "/bin", "GITHUB_TOKEN": "x", "GIT_DIR": "d"}) == {"GITHUB_TOKEN": ""}


@pytest.mark.skipif(sys.platform != "linux", reason="prctl is Linux only")
def test_escalate_is_not_dumpable():
    code = (
        "import ctypes\nfrom escalate.cli.main import main\nmain(['--version'])\n"
        "print('dumpable', ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "dumpable 0" in out


def test_subprocess_git_gets_the_same_overrides_and_a_minimal_environment(tmp_path, monkeypatch):
    from escalate.workspace.hardening import minimal_env, safe_git

    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw-never-seen@db/app")
    loot = tmp_path / "loot"
    root = make_repo(tmp_path, CALC_FILES)
    plant(root, loot)
    (root / ".gitattributes").write_text("* filter=pwn\n")
    (root / "calc" / "ops.py").write_text("changed = True\n")
    env = minimal_env()
    subprocess.run(safe_git(root, "add", "-A"), check=True, env=env, capture_output=True)
    subprocess.run(safe_git(root, "status", "--porcelain"), check=True, env=env, capture_output=True)
    assert not list(tmp_path.glob("loot.*"))
    assert "DATABASE_URL" not in env and env["PATH"] == os.environ["PATH"]
