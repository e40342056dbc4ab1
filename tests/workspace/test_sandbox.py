"""The sandbox's own behaviour: the exported tree, the output cap, and what happens when bubblewrap
cannot start (a clear stop when it is required, one clear warning when it is not)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from samplerepo import (
    CALC_FILES,
    CALC_TARGET,
    FIX,
    NEEDS_BWRAP,
    PYTEST_COMMAND,
    ROLES_OFF,
    RUFF_COMMAND,
    git,
    make_repo,
)

from escalate.workspace.process import run_command
from escalate.workspace.sandbox import Isolation


@NEEDS_BWRAP
def test_the_tree_inside_is_a_full_copy_without_the_git_link(tmp_path):
    root = make_repo(tmp_path, CALC_FILES)
    git(root, "worktree", "add", "-q", "--detach", str(tmp_path / "wt"))
    tree = tmp_path / "wt"
    (tree / ".hidden").write_text("h")
    (tree / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (tree / "run.sh").chmod(0o755)
    (tree / "link").symlink_to("calc/ops.py")
    code = (
        "import os\n"
        "print('git', os.path.lexists('.git'), 'hidden', open('.hidden').read(), end=' ')\n"
        "print('exec', os.access('run.sh', os.X_OK))\n"
        "print('link', os.readlink('link'), 'ops', open('calc/ops.py').read() == open('link').read())\n"
    )
    run = run_command([sys.executable, "-c", code], tree, timeout_s=60, isolation=Isolation("bwrap"))
    assert run.ok, run.describe()
    assert "git False hidden h exec True" in run.stdout and "link calc/ops.py ops True" in run.stdout
    assert (tree / ".git").is_file()  # the worktree itself keeps its link


@NEEDS_BWRAP
def test_writes_into_the_tree_are_bounded_like_tmp(tmp_path):
    (tmp_path / "kept.txt").write_text("x")
    code = "open('big', 'wb').write(b'x' * (8 << 20))"
    run = run_command(
        [sys.executable, "-c", code], tmp_path, timeout_s=60, isolation=Isolation("bwrap", tmp_size_mb=2)
    )
    assert not run.ok and "No space left on device" in run.stderr, run.describe()
    assert not (tmp_path / "big").exists()


@pytest.mark.parametrize("mode", [pytest.param("bwrap", marks=NEEDS_BWRAP), "none"])
def test_output_is_capped_head_and_tail_kept(tmp_path, mode):
    code = "import sys\nsys.stdout.write('HEAD' + 'x' * 50_000_000 + 'TAIL')\n"
    iso = Isolation(mode, output_limit_kb=64)
    run = run_command([sys.executable, "-c", code], tmp_path, timeout_s=60, isolation=iso)
    assert run.ok, run.describe()[:2000]
    assert len(run.stdout) < 70_000
    assert (
        run.stdout.startswith("HEAD") and run.stdout.endswith("TAIL") and "bytes of output cut" in run.stdout
    )


@NEEDS_BWRAP
def test_writes_of_sandboxed_code_stay_in_its_copy(tmp_path):
    (tmp_path / "kept.txt").write_text("original\n")
    code = "open('kept.txt', 'w').write('changed'); open('new.txt', 'w').write('new')"
    run = run_command([sys.executable, "-c", code], tmp_path, timeout_s=60, isolation=Isolation("bwrap"))
    assert run.ok, run.describe()
    assert (tmp_path / "kept.txt").read_text() == "original\n" and not (tmp_path / "new.txt").exists()


def fix(tmp_path: Path, sim, sandbox: str) -> tuple[subprocess.CompletedProcess, Path]:
    config = {
        "validate": {"test_command": PYTEST_COMMAND, "ruff_command": RUFF_COMMAND, "timeout_s": 60,
                     "sandbox": sandbox},
        "roles": ROLES_OFF,
        "ledger": {"enabled": False},
    }  # fmt: skip
    root = make_repo(tmp_path, {**CALC_FILES, ".escalate.yml": json.dumps(config)})
    sim.set_script({"models": {"claude-haiku-4-5": [
        {"when": {"last_user_has_tool_result": False}, "content": [FIX]},
        {"when": {"last_user_has_tool_result": True}, "content": "DONE"},
    ]}})  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update({**sim.env(), "ESCALATE_BWRAP": str(tmp_path / "no-such-bwrap")})
    argv = [sys.executable, "-m", "escalate.cli", "fix", "--test", CALC_TARGET, "--repo", str(root), "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    return done, root


@pytest.mark.slow
def test_a_required_sandbox_that_cannot_start_stops_the_run_with_the_fix(tmp_path, sim):
    done, root = fix(tmp_path, sim, "bwrap")
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout + done.stderr
    result = json.loads(lines[0])
    assert result["outcome"] == "error" and done.returncode >= 2
    said = done.stderr + json.dumps(result)
    for fix_named in (
        "apt-get install bubblewrap",
        "kernel.apparmor_restrict_unprivileged_userns",
        "validate.sandbox: none",
    ):
        assert fix_named in said, said
    assert not sim.messages_requests()  # stopped before any work


@pytest.mark.slow
def test_auto_without_bubblewrap_runs_and_says_so_once_and_everywhere(tmp_path, sim):
    done, root = fix(tmp_path, sim, "auto")
    result = json.loads(done.stdout)
    assert result["outcome"] == "fixed", done.stderr
    assert result["sandbox"]["mode"] == "none" and "not installed" in result["sandbox"]["warning"]
    assert done.stderr.count("run WITHOUT a sandbox") == 1, done.stderr
    summary = next((root / ".escalate" / "runs").iterdir()) / "summary.md"
    assert "ran without a sandbox" in summary.read_text()


@pytest.mark.parametrize("mode", [pytest.param("bwrap", marks=NEEDS_BWRAP), "none"])
def test_a_timeout_kills_the_tree_and_says_so(tmp_path, mode):
    run = run_command(["sleep", "30"], tmp_path, timeout_s=1, isolation=Isolation(mode))
    assert run.timed_out and run.duration_s < 15
    assert "timed out after 1 s" in run.describe()


def test_groups_left_by_killed_runs_are_swept():
    from escalate.workspace.treelimits import tree_limits

    caps = tree_limits(64, 8, 1)
    if caps.kind == "rlimit":
        caps.close()
        pytest.skip("no cgroup here")
    parents = [d.parent for d in caps.dirs]
    caps.close()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = [p / f"escalate-{int(dead.stdout)}-1" for p in parents]
    for d in stale:
        d.mkdir()
    tree_limits(65, 8, 1).close()  # limits no group of this process has: a new group is made, and sweeps
    assert not any(d.exists() for d in stale)
