"""A capped command is put in its cgroup and rlimits from escalate's side while it waits at a gate, and
its cgroup is reused by the next command: what that must keep (every descendant ends with its command,
the caps hold from the command's first instruction, one command's memory hit is not the next one's, a
command whose caps cannot be set never runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from samplerepo import NEEDS_BWRAP

from escalate.workspace import capgate, process, treelimits
from escalate.workspace.process import run_command
from escalate.workspace.sandbox import Isolation, probe_bwrap
from escalate.workspace.treelimits import CgroupCaps, tree_limits


def _cgroup_kind() -> str:
    caps = tree_limits(64, 8, 1)
    caps.close()
    return caps.kind


needs_cgroup = pytest.mark.skipif(_cgroup_kind() == "rlimit", reason="no cgroup can be made here")
HOG = (
    "import os, time\n"
    "for _ in range(3):\n"
    "    if os.fork() == 0:\n"
    "        b = bytearray(40 << 20)\n"  # each under the per-process cap, together over the tree's
    "        time.sleep(1); os._exit(0)\n"
    "for _ in range(3): os.wait()\n"
)
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
    first = run_command([sys.executable, "-c", HOG], tmp_path, timeout_s=60, isolation=iso)
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


# -- a gate admitted to its caps before its command is known (escalate.workspace.capgate) ----------------

SANDBOX = Isolation("bwrap", memory_limit_mb=300, max_processes=32, file_size_limit_mb=5)


def _until(check, what: str, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.01)
    return found


def _waiting(iso: Isolation = SANDBOX) -> list[capgate.ReadyGate]:
    """The gates waiting for iso's commands in an empty tree (the tree's size is part of the caps)."""
    caps = (iso.memory_limit_mb, iso.max_processes, iso.file_size_limit_mb)
    return [g for g in capgate.ready_gates().waiting() if g.key[:3] == caps]


def _waiting_gate(iso: Isolation = SANDBOX) -> capgate.ReadyGate:
    return _until(lambda: next(iter(_waiting(iso)), None), "a gate admitted ahead for the next command")


def _limits_of(pid: int) -> str:
    return Path(f"/proc/{pid}/limits").read_text()


@NEEDS_BWRAP
@needs_cgroup
def test_a_sandboxed_command_starts_through_a_gate_already_in_its_caps(tmp_path, monkeypatch):
    trace = tmp_path / "trace"  # outside the tree: the tree's size is part of the caps
    monkeypatch.setenv(capgate.TRACE, str(trace))
    tree = tmp_path / "tree"
    tree.mkdir()
    first = run_command(["true"], tree, timeout_s=60, isolation=SANDBOX)
    assert first.ok, first.describe()
    gate = _waiting_gate()
    # Before any command is known, the gate is in the group and under the rlimits.
    for d in gate.limits.dirs:
        assert str(gate.proc.pid) in (d / "cgroup.procs").read_text().split(), d
    assert f"Max file size             {5 << 20}" in _limits_of(gate.proc.pid)
    fsize_blocks = 5 * 2048  # ulimit -f counts 512-byte blocks
    second = run_command(["sh", "-c", SHOW], tree, timeout_s=60, isolation=SANDBOX)
    assert second.ok and f"FSIZE={fsize_blocks}" in second.stdout, second.describe()
    assert gate.proc.returncode == 0, "the command did not run as the waiting gate"
    assert gate not in capgate.ready_gates().waiting()
    assert trace.read_text().splitlines() == ["ahead", "ahead"], trace.read_text()


@NEEDS_BWRAP
@needs_cgroup
def test_timeouts_output_caps_and_memory_hits_are_the_same_through_a_gate_admitted_ahead(tmp_path):
    iso = Isolation("bwrap", memory_limit_mb=64, max_processes=16, output_limit_kb=4)
    run_command(["true"], tmp_path, timeout_s=60, isolation=iso)
    _waiting_gate(iso)
    hang = run_command(["sh", "-c", "sleep 60 & sleep 60"], tmp_path, timeout_s=1, isolation=iso)
    assert hang.timed_out and hang.duration_s < 30, hang.describe()
    _waiting_gate(iso)
    flood = run_command(["sh", "-c", "yes | head -c 100000"], tmp_path, timeout_s=60, isolation=iso)
    assert flood.ok and "bytes of output cut" in flood.stdout and len(flood.stdout) < 5000, flood.describe()
    _waiting_gate(iso)
    hit = run_command([sys.executable, "-c", HOG], tmp_path, timeout_s=60, isolation=iso)
    assert "hit its memory limit" in hit.stderr, hit.describe()
    after = run_command(["true"], tmp_path, timeout_s=60, isolation=iso)
    assert after.ok and "hit its memory limit" not in after.stderr, after.describe()


@needs_cgroup
def test_a_gate_whose_admission_failed_is_never_handed_a_command(tmp_path, monkeypatch):
    spawned: list[int] = []
    admit = CgroupCaps.admit

    def half_admit(self, pid):  # into the first group, then a failure: the gate is half-capped
        spawned.append(pid)
        (self.dirs[0] / "cgroup.procs").write_text(str(pid))
        raise OSError("the memory group refused it")

    gates = capgate.ReadyGates()
    key = capgate.key_for(256, 16, 4, {"PATH": os.environ["PATH"]})
    monkeypatch.setattr(CgroupCaps, "admit", half_admit)
    assert gates.take(key) is None
    assert spawned and not gates.waiting()
    assert not Path(f"/proc/{spawned[0]}").exists(), "the gate that could not be capped is still there"
    # Through run_command: no gate ahead, and its own gate fails the same way: nothing runs.
    monkeypatch.setattr(capgate, "_GATES", gates)
    if probe_bwrap().ok:
        run = run_command(["sh", "-c", "touch ran"], tmp_path, timeout_s=60, isolation=SANDBOX)
        assert run.returncode == process.GATE_FAILED, run.describe()
        assert not (tmp_path / "ran").exists()
    monkeypatch.setattr(CgroupCaps, "admit", admit)
    gates.close()


def test_a_gate_runs_nothing_without_a_whole_script(tmp_path):
    marker = tmp_path / "ran"
    whole = f"{{ cd -- {tmp_path} && exec touch {marker} </dev/null; }}\n"
    for given in ("", whole[:-3], whole.replace("touch", "touch --")[: whole.index("&&") + 12]):
        gate = subprocess.Popen(["/bin/sh", "-c", capgate.READY_GATE], stdin=subprocess.PIPE,
                                stderr=subprocess.PIPE)  # fmt: skip
        _, err = gate.communicate(given.encode(), timeout=30)
        assert gate.returncode != 0 and not marker.exists(), (given, err)
    gate = subprocess.Popen(["/bin/sh", "-c", capgate.READY_GATE], stdin=subprocess.PIPE)
    gate.communicate(whole.encode(), timeout=30)
    assert gate.returncode == 0 and marker.exists()  # the control: a whole script runs


@NEEDS_BWRAP
@needs_cgroup
def test_a_killed_previous_command_does_not_take_the_next_gate_with_it(tmp_path):
    def both_waiting():
        waiting = _waiting()
        return waiting if len(waiting) == capgate.GATES_PER_KEY else None

    run_command(["true"], tmp_path, timeout_s=60, isolation=SANDBOX)
    taken = _until(both_waiting, "two gates waiting")[0]  # the oldest: the next command takes it
    kills: list = []
    first = run_command(["true"], tmp_path, timeout_s=60, isolation=SANDBOX, on_start=kills.append)
    assert first.ok and kills and taken.proc.returncode == 0, first.describe()
    # Its group, emptied and given back, now holds the gate admitted after it.
    successor = _until(
        lambda: next((g for g in (both_waiting() or []) if g.limits.dirs == taken.limits.dirs), None),
        "a gate admitted into the group the ended command ran in",
    )
    kills[0]()  # a late cancel (validation.suite_ahead) or timer of the command that has ended
    time.sleep(0.2)
    assert successor.proc.poll() is None, "the ended command's kill reached the gate waiting in its group"
    second = run_command(["true"], tmp_path, timeout_s=60, isolation=SANDBOX)
    third = run_command(["sh", "-c", "echo next"], tmp_path, timeout_s=60, isolation=SANDBOX)
    assert second.ok and third.ok and third.stdout == "next\n", third.describe()
    assert successor.proc.returncode == 0, "the successor gate did not run its command"


LEFT_AT_EXIT = """
import json, os, signal, sys, time
from pathlib import Path
from escalate.workspace import capgate
from escalate.workspace.process import run_command
from escalate.workspace.sandbox import Isolation
iso = Isolation("bwrap", memory_limit_mb=300, max_processes=32, file_size_limit_mb=5)
assert run_command(["true"], Path(sys.argv[1]), timeout_s=60, isolation=iso).ok
deadline = time.monotonic() + 10
while len(capgate.ready_gates().waiting()) < capgate.GATES_PER_KEY and time.monotonic() < deadline:
    time.sleep(0.01)
gates = capgate.ready_gates().waiting()
dirs = [str(d) for g in gates for d in g.limits.dirs]
print(json.dumps({"pids": [g.proc.pid for g in gates], "dirs": dirs}), flush=True)
if sys.argv[2] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] in "ZX"
    except OSError:
        return True


@NEEDS_BWRAP
@needs_cgroup
@pytest.mark.parametrize("end", ["exit", "killed"])
def test_gates_left_over_are_gone_when_escalate_ends(tmp_path, end):
    done = subprocess.run([sys.executable, "-c", LEFT_AT_EXIT, str(tmp_path), end], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.stdout, done.stderr[-3000:]
    left = json.loads(done.stdout)
    assert len(left["pids"]) == capgate.GATES_PER_KEY, left
    # At exit they are killed and their groups removed; killed, escalate's pipes close and each gate
    # reads EOF and exits without running anything; the next escalate sweeps the empty groups.
    _until(lambda: all(_gone(pid) for pid in left["pids"]), "the leftover gates to end")
    if end == "killed":
        for parent in {Path(d).parent for d in left["dirs"]}:
            treelimits._sweep(parent)
    assert not [d for d in left["dirs"] if Path(d).exists()], left["dirs"]


@NEEDS_BWRAP
@needs_cgroup
def test_a_forked_child_starts_its_own_gates_and_leaves_its_parents_alone(tmp_path):
    run_command(["true"], tmp_path, timeout_s=60, isolation=SANDBOX)
    parents = _until(lambda: _waiting() if len(_waiting()) == capgate.GATES_PER_KEY else None, "two gates")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # a fork with threads: the child runs one command
        pid = os.fork()
    if pid == 0:  # the child: its own gates and groups, ended before it leaves without pytest's exit
        code = 1
        try:
            mine = capgate.ready_gates()
            run = run_command(["sh", "-c", "echo child"], tmp_path, timeout_s=60, isolation=SANDBOX)
            code = 0 if run.ok and run.stdout == "child\n" and mine.pid == os.getpid() else 2
            mine.close()
            treelimits._pool().drain()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert all(g.proc.poll() is None for g in parents), "the child used or ended its parent's gates"
    assert [g for g in _waiting() if g in parents] == parents
    after = run_command(["true"], tmp_path, timeout_s=60, isolation=SANDBOX)
    assert after.ok and parents[0].proc.returncode == 0, after.describe()


@needs_cgroup
def test_the_worker_outlives_a_gate_it_could_not_make(monkeypatch):
    gates = capgate.ReadyGates()
    key = capgate.key_for(128, 16, 4, {"PATH": os.environ["PATH"]})
    made = capgate._admitted_gate

    def broken(key):
        raise RuntimeError("no gate this time")

    monkeypatch.setattr(capgate, "_admitted_gate", broken)
    assert gates.take(key) is None
    monkeypatch.setattr(capgate, "_admitted_gate", made)
    gate = gates.take(key)  # a dead worker would leave this waiting for nothing
    assert gate is not None and gates.worker.is_alive() and gate.proc.poll() is None
    gate.discard()
    gates.close()
