"""Memory and process caps for a command's whole process tree.

A cgroup bounds the tree as a whole (five children of 1.5 GB each count as 7.5 GB; a fork
bomb stops at ``pids.max`` and no process outside the group is affected): cgroup v2 where it
has the memory and pids controllers, else the v1 memory and pids hierarchies, when escalate may
create groups in them. Where neither can be had, each process gets RLIMIT_AS, RLIMIT_NPROC
(which the kernel does not apply to root) and RLIMIT_FSIZE. RLIMIT_FSIZE is set in every case.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path
from typing import Protocol

_SEQ = itertools.count(1)
CGROUP_ROOT = Path("/sys/fs/cgroup")


class TreeLimits(Protocol):
    """A cap on one command's process tree: ``enter`` runs in the child before exec."""

    kind: str  # "cgroup2" | "cgroup1" | "rlimit"

    def enter(self) -> None: ...

    def kill(self) -> None: ...

    def memory_hit(self) -> bool: ...

    def close(self) -> None: ...


def _rlimits(memory_mb: int | None, nproc: int | None, fsize_mb: int | None) -> None:
    import resource

    if memory_mb is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    if nproc is not None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        cap = nproc if hard == resource.RLIM_INFINITY else min(nproc, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
    if fsize_mb is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_mb << 20, fsize_mb << 20))


class RlimitCaps:
    """Per-process limits: the fallback where no cgroup can be made."""

    kind = "rlimit"

    def __init__(self, memory_mb: int | None, max_processes: int | None, fsize_mb: int | None):
        self.memory_mb, self.max_processes, self.fsize_mb = memory_mb, max_processes, fsize_mb

    def enter(self) -> None:
        _rlimits(self.memory_mb, self.max_processes, self.fsize_mb)

    def kill(self) -> None:
        pass  # the pid namespace (or the process group) ends the tree

    def memory_hit(self) -> bool:
        return False

    def close(self) -> None:
        pass


def _backoff(total_s: float = 2.0):
    """Pauses from 0.5 ms doubling to 20 ms, about total_s in all: a sandbox's last processes are
    usually gone within a millisecond or two of its end, and a flat 20 ms sleep cost every run that."""
    pause, spent = 0.0005, 0.0
    while spent < total_s:
        yield pause
        spent += pause
        pause = min(pause * 2, 0.02)


class CgroupCaps:
    """A fresh cgroup (v2, or v1 memory + pids) holding the command and everything it starts."""

    def __init__(self, kind: str, dirs: list[Path], fsize_mb: int | None, memory_mb: int | None):
        self.kind, self.dirs, self.fsize_mb, self.memory_mb = kind, dirs, fsize_mb, memory_mb

    def enter(self) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text("0")  # 0 = the writing process (the child, before exec)
        # Each process still gets the address-space cap: a single runaway fails fast and visibly.
        _rlimits(self.memory_mb, None, self.fsize_mb)

    def _pids(self) -> set[int]:
        pids: set[int] = set()
        for d in self.dirs:
            try:
                pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return pids

    def kill(self) -> None:
        kill_file = self.dirs[0] / "cgroup.kill"
        if self.kind == "cgroup2" and kill_file.exists():
            try:
                kill_file.write_text("1")
                return
            except OSError:
                pass
        for pause in _backoff():  # pids.max bounds the group, so this converges
            pids = self._pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(pause)

    def memory_hit(self) -> bool:
        for d in self.dirs:
            for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                try:
                    for line in (d / name).read_text().splitlines():
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == key and int(parts[1]) > 0:
                            return True
                except (OSError, ValueError):
                    continue
            try:
                if int((d / "memory.failcnt").read_text()) > 0:
                    return True
            except (OSError, ValueError):
                pass
        return False

    def close(self) -> None:
        self.kill()
        for d in self.dirs:
            for pause in _backoff():
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(pause)  # the last processes are still being reaped


def _own_cgroup(controller: str | None) -> str | None:
    """This process's cgroup path in the v2 hierarchy (controller None) or a v1 controller's."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (controller is None and controllers == "") or (controller in controllers.split(",")):
            return path
    return None


def _mounts() -> list[tuple[str, str, set[str]]]:
    out = []
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            _, where, fstype, opts, *_ = line.split()
            out.append((where, fstype, set(opts.split(","))))
    except OSError:
        pass
    return out


def _write_limits(d: Path, memory_mb: int | None, max_processes: int, v2: bool) -> None:
    if memory_mb is not None:
        limit = str(memory_mb << 20)
        (d / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(limit)
        swap = d / ("memory.swap.max" if v2 else "memory.memsw.limit_in_bytes")
        if swap.exists():
            try:
                swap.write_text("0" if v2 else limit)
            except OSError:
                pass
    (d / "pids.max").write_text(str(max_processes))


def _make(parent: Path, name: str) -> Path:
    _sweep(parent)
    d = parent / name
    d.mkdir()
    return d


def _sweep(parent: Path) -> None:
    """Remove the empty groups of escalate runs that were killed before they could (their pid is gone)."""
    for d in parent.glob("escalate-*-*"):
        try:
            pid = int(d.name.split("-")[1])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            try:
                d.rmdir()  # fails while a process is still in it: left for the next sweep
            except OSError:
                pass
        except PermissionError:
            continue  # another user's run, alive


def _cgroup2(name: str, memory_mb: int | None, max_processes: int) -> Path | None:
    mount = next((Path(w) for w, t, _ in _mounts() if t == "cgroup2"), None)
    own = _own_cgroup(None)
    if mount is None or own is None:
        return None
    need = {"pids"} | ({"memory"} if memory_mb is not None else set())
    # Our own group, or the hierarchy's root (a group with processes cannot enable controllers for children).
    for parent in dict.fromkeys([mount / own.lstrip("/"), mount]):
        try:
            if not need <= set((parent / "cgroup.controllers").read_text().split()):
                continue
            enabled = set((parent / "cgroup.subtree_control").read_text().split())
            if not need <= enabled:
                (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in need))
            d = _make(parent, name)
        except OSError:
            continue
        try:
            _write_limits(d, memory_mb, max_processes, v2=True)
            return d
        except OSError:
            d.rmdir()
    return None


def _cgroup1(name: str, memory_mb: int | None, max_processes: int) -> list[Path] | None:
    made: list[Path] = []
    try:
        for controller in ("pids", "memory") if memory_mb is not None else ("pids",):
            mount = next((Path(w) for w, t, o in _mounts() if t == "cgroup" and controller in o), None)
            own = _own_cgroup(controller)
            if mount is None or own is None:
                raise OSError(f"no v1 {controller} hierarchy")
            made.append(_make(mount / own.lstrip("/"), name))
        pids_dir = made[0]
        (pids_dir / "pids.max").write_text(str(max_processes))
        if memory_mb is not None:
            mem = made[1]
            (mem / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
            memsw = mem / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                memsw.write_text(str(memory_mb << 20))
        return made
    except OSError:
        for d in made:
            try:
                d.rmdir()
            except OSError:
                pass
        return None


def tree_limits(memory_mb: int | None, max_processes: int, fsize_mb: int | None) -> TreeLimits:
    """The strongest cap available: a v2 cgroup, v1 cgroups, else per-process rlimits."""
    if os.environ.get("ESCALATE_NO_CGROUP") != "1":
        name = f"escalate-{os.getpid()}-{next(_SEQ)}"
        v2 = _cgroup2(name, memory_mb, max_processes)
        if v2 is not None:
            return CgroupCaps("cgroup2", [v2], fsize_mb, memory_mb)
        v1 = _cgroup1(name, memory_mb, max_processes)
        if v1 is not None:
            return CgroupCaps("cgroup1", v1, fsize_mb, memory_mb)
    return RlimitCaps(memory_mb, max_processes, fsize_mb)
