"""A capped command is put in its cgroup and rlimits from escalate's side while it waits at a gate, and
its cgroup is reused by the next command: what that must keep (every descendant ends with its command,
the caps hold from the command's first instruction, one command's memory hit is not the next one's, a
command whose caps cannot be set never runs)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from samplerepo import NEEDS_BWRAP

from escalate.workspace import process
from escalate.workspace.process import run_command
from escalate.workspace.sandbox import Isolation
from escalate.workspace.treelimits import CgroupCaps, tree_limits


def _cgroup_kind() -> str:
    caps = tree_limits(64, 8, 1)
    caps.close()
    return caps.kind


needs_cgroup = pytest.mark.skipif(_cgroup_kind() == "rlimit", reason="no cgroup can be made here")
SHOW = "grep -E ':(pids|memory):' /proc/self/cgroup; echo AS=$(ulimit -v) FSIZE=$(ulimit -f)"


@pytest.mark.parametrize("mode", [pytest.param("bwrap", marks=NEEDS_BWRAP), "none"])
def test_the_caps_hold_from_the_commands_first_instruction(tmp_path, mode):
    iso = Isolation(mode, memory_limit_mb=300, max_processes=32, file_size_limit_mb=5)
    run = run_command(["sh", "-c", SHOW], tmp_path, timeout_s=60, isolation=iso)
    assert run.ok, run.describe()
    fsize_blocks = 5 * 2048  # ulimit -f counts 512-byte blocks
    assert f"FSIZE={fsize_blocks}" in run.stdout
    assert f"AS={300 * 1024}" in run.stdout or mode == "bwrap"  # bwrap's cap adds the tree's copy
    if mode == "none" and _cgroup_kind() == "cgroup1":
        groups = [line.rsplit("/", 1)[-1] for line in run.stdout.splitlines() if ":/" in line]
        assert len(groups) == 2 and all(g.startswith(f"escalate-{os.getpid()}-") for g in groups), run.stdout


@needs_cgroup
def test_a_reused_group_still_ends_every_descendant_of_each_command(tmp_path):
    iso = Isolation("none", memory_limit_mb=256, max_processes=32)
    daemon = "(setsid sh -c 'echo $$ > daemon.pid; exec sleep 300' &); sleep 0.2; grep pids /proc/self/cgroup"
    first = run_command(["sh", "-c", daemon], tmp_path, timeout_s=60, isolation=iso)
    assert first.ok, first.describe()
    pid = int((tmp_path / "daemon.pid").read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), "a double-forked daemon outlived its command"
    second = run_command(["grep", "pids", "/proc/self/cgroup"], tmp_path, timeout_s=60, isolation=iso)
    assert second.ok and second.stdout == first.stdout, (first.stdout, second.stdout)  # the same group


@needs_cgroup
def test_one_commands_memory_hit_is_not_reported_for_the_next(tmp_path):
    iso = Isolation("none", memory_limit_mb=64, max_processes=16)
    hog = (
        "import os, time\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        b = bytearray(40 << 20)\n"  # each under the per-process cap, together over the tree's
        "        time.sleep(1); os._exit(0)\n"
        "for _ in range(3): os.wait()\n"
    )
    first = run_command([sys.executable, "-c", hog], tmp_path, timeout_s=60, isolation=iso)
    assert "hit its memory limit" in first.stderr, first.describe()
    second = run_command(["true"], tmp_path, timeout_s=60, isolation=iso)
    assert second.ok and "hit its memory limit" not in second.stderr, second.describe()


def test_a_command_whose_caps_cannot_be_set_never_runs(tmp_path, monkeypatch):
    if not hasattr(os, "sched_getaffinity"):  # the gate is Linux's (prlimit)
        pytest.skip("Linux only")
    broken = CgroupCaps("cgroup1", [tmp_path / "no-such-group"], None, 64)
    monkeypatch.setattr(process, "tree_limits", lambda *a: broken)
    run = run_command(["sh", "-c", "touch ran"], tmp_path, timeout_s=60, isolation=Isolation("none"))
    assert run.returncode == process.GATE_FAILED and "caps could not be set" in run.stderr, run.describe()
    assert not (tmp_path / "ran").exists()
