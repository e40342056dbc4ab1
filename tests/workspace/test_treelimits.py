"""The cgroup v2 path of treelimits against a real cgroup2 file system.

A machine on cgroup v1 (this one) has no cgroup2 mount, so the v2 code would never run. Here a
child process gets its own mount namespace (``unshare -m``), mounts cgroup2 there and drives the
real code: a group made on it takes a process tree, and ``kill`` ends the whole tree through
``cgroup.kill``; ``tree_limits`` uses v2 when that hierarchy has the memory and pids controllers
(it then writes memory.max and pids.max) and falls back to v1 when, as on a v1 machine, those
controllers are bound to v1 hierarchies. What the kernel does with the limits once written (the
memory and pids caps biting) is shown by the attack rows in tests/security/test_attack_sandbox.py
on a machine where the v2 controllers are available. Needs root (mount); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not os.path.isdir("/sys/fs/cgroup"),
    reason="mounting cgroup2 in a mount namespace needs root and unshare(1)",
)

IN_NAMESPACE = r"""
import json, os, signal, subprocess, sys, time
from pathlib import Path
from escalate.workspace import treelimits
from escalate.workspace.treelimits import CgroupCaps

mount = Path(sys.argv[1])
subprocess.run(["mount", "-t", "cgroup2", "none", str(mount)], check=True)
out = {"controllers": (mount / "cgroup.controllers").read_text().split(),
       "own": treelimits._own_cgroup(None)}

# A group of our own on the v2 hierarchy, holding a shell and its background child.
group = mount / f"escalate-test-{os.getpid()}"
group.mkdir()
caps = CgroupCaps("cgroup2", [group], None, None)
shell = subprocess.Popen(["sh", "-c", "sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, text=True,
                         preexec_fn=caps.enter)
grandchild = int(shell.stdout.readline())
out["in_group"] = sorted(caps._pids()) == sorted([shell.pid, grandchild])
started = time.monotonic()
caps.kill()
shell.wait(timeout=10)
time.sleep(0.1)
out["grandchild_gone"] = not Path(f"/proc/{grandchild}").exists() or \
    Path(f"/proc/{grandchild}/stat").read_text().split()[2] == "Z"
out["kill_s"] = time.monotonic() - started
out["memory_hit"] = caps.memory_hit()
caps.close()
out["group_removed"] = not group.exists()

# What tree_limits picks with this cgroup2 mount present.
limits = treelimits.tree_limits(256, 32, 64)
out["kind"] = limits.kind
if limits.kind == "cgroup2":
    d = limits.dirs[0]
    out["memory.max"] = (d / "memory.max").read_text().strip()
    out["pids.max"] = (d / "pids.max").read_text().strip()
limits.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def cgroup2_run(tmp_path_factory):
    where = tmp_path_factory.mktemp("cgroup2")
    argv = ["unshare", "-m", "--propagation", "private", sys.executable, "-c", IN_NAMESPACE, str(where)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0 and "mount" in done.stderr and "permission denied" in done.stderr.lower():
        pytest.skip(f"cannot mount cgroup2 here: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_cgroup2_group_takes_the_tree_and_cgroup_kill_ends_it(cgroup2_run):
    assert cgroup2_run["in_group"], "the command and its child were not both in the v2 group"
    assert cgroup2_run["grandchild_gone"], "a background child survived cgroup.kill"
    assert cgroup2_run["kill_s"] < 5
    assert cgroup2_run["group_removed"]
    assert cgroup2_run["memory_hit"] is False  # no memory.events without the memory controller


def test_tree_limits_uses_cgroup2_only_with_its_controllers(cgroup2_run):
    if {"memory", "pids"} <= set(cgroup2_run["controllers"]):
        assert cgroup2_run["kind"] == "cgroup2"
        assert cgroup2_run["memory.max"] == str(256 << 20) and cgroup2_run["pids.max"] == "32"
    else:  # a v1 machine: memory and pids live in v1 hierarchies, so v2 cannot cap the tree
        assert cgroup2_run["kind"] != "cgroup2"
