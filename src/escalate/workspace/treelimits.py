"""Memory and process caps for a command's whole process tree.

A cgroup bounds the tree as a whole (five children of 1.5 GB each count as 7.5 GB; a fork
bomb stops at ``pids.max`` and no process outside the group is affected): cgroup v2 where it
has the memory and pids controllers, else the v1 memory and pids hierarchies, when escalate may
create groups in them. Where neither can be had, each process gets RLIMIT_AS, RLIMIT_NPROC
(which the kernel does not apply to root) and RLIMIT_FSIZE. RLIMIT_FSIZE is set in every case.

A command enters its caps through ``admit(pid)``, from escalate's side, while the command waits at
a gate (``escalate.workspace.process``): that lets the command start with vfork + exec instead of
forking escalate's whole Python process to run a ``preexec_fn`` (the fork cost more than the rest of
the caps together). Groups are made once per escalate process and reused by one command at a time
(``tree_limits`` takes one from a pool, ``close`` empties it and gives it back): making and removing
a memory cgroup per command costs kernel work every time, a group emptied of processes holds
nothing of the last command but reclaimable cache.
"""

from __future__ import annotations

import atexit
import itertools
import os
import signal
import threading
import time
from pathlib import Path
from typing import Protocol

_SEQ = itertools.count(1)
CGROUP_ROOT = Path("/sys/fs/cgroup")


class TreeLimits(Protocol):
    """A cap on one command's process tree: ``enter`` runs in the child before exec."""

    kind: str  # "cgroup2" | "cgroup1" | "rlimit"

    def enter(self) -> None: ...

    def admit(self, pid: int) -> None: ...

    def kill(self) -> None: ...

    def memory_hit(self) -> bool: ...

    def close(self) -> None: ...


def can_admit() -> bool:
    """Whether caps can be put on a started process from outside (``prlimit``: Linux)."""
    import resource

    return hasattr(resource, "prlimit")


def _rlimits(memory_mb: int | None, nproc: int | None, fsize_mb: int | None, pid: int | None = None) -> None:
    """Set the per-process limits on this process, or (pid) on a started one."""
    import resource

    def put(which: int, value: int) -> None:
        if pid is None:
            resource.setrlimit(which, (value, value))
        else:
            resource.prlimit(pid, which, (value, value))

    if memory_mb is not None:
        put(resource.RLIMIT_AS, memory_mb << 20)
    if nproc is not None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        put(resource.RLIMIT_NPROC, nproc if hard == resource.RLIM_INFINITY else min(nproc, hard))
    if fsize_mb is not None:
        put(resource.RLIMIT_FSIZE, fsize_mb << 20)


class RlimitCaps:
    """Per-process limits: the fallback where no cgroup can be made."""

    kind = "rlimit"

    def __init__(self, memory_mb: int | None, max_processes: int | None, fsize_mb: int | None):
        self.memory_mb, self.max_processes, self.fsize_mb = memory_mb, max_processes, fsize_mb

    def enter(self) -> None:
        _rlimits(self.memory_mb, self.max_processes, self.fsize_mb)

    def admit(self, pid: int) -> None:
        _rlimits(self.memory_mb, self.max_processes, self.fsize_mb, pid)

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
    """A cgroup (v2, or v1 memory + pids) holding the command and everything it starts.

    With a ``pool`` (``tree_limits`` sets it) ``close`` empties the group and hands it back for the
    next command instead of removing it.
    """

    def __init__(self, kind: str, dirs: list[Path], fsize_mb: int | None, memory_mb: int | None):
        self.kind, self.dirs, self.fsize_mb, self.memory_mb = kind, dirs, fsize_mb, memory_mb
        self.pool: _Pool | None = None
        self.pool_key: tuple[int | None, int] = (memory_mb, 0)
        self.hits_before = self._memory_hits()  # a reused group's counters carry earlier commands' hits

    def enter(self) -> None:
        self.admit(0)  # 0 = the writing process (the child, before exec)

    def admit(self, pid: int) -> None:
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))
        # Each process still gets the address-space cap: a single runaway fails fast and visibly.
        _rlimits(self.memory_mb, None, self.fsize_mb, pid or None)

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

    def _memory_hits(self) -> tuple[int, ...]:
        """The group's OOM kills and (v1) failed charges, each counter as it reads now."""
        counts: list[int] = []
        for d in self.dirs:
            for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                try:
                    for line in (d / name).read_text().splitlines():
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == key:
                            counts.append(int(parts[1]))
                except (OSError, ValueError):
                    counts.append(0)
            try:
                counts.append(int((d / "memory.failcnt").read_text()))
            except (OSError, ValueError):
                counts.append(0)
        return tuple(counts)

    def memory_hit(self) -> bool:
        return any(now > before for now, before in zip(self._memory_hits(), self.hits_before, strict=False))

    def count_memory_hits_from_now(self) -> None:
        """Take the group's counters as they read now as the baseline of ``memory_hit``."""
        self.hits_before = self._memory_hits()

    def close(self) -> None:
        self.kill()
        if self.pool is not None and not self._pids() and self.pool.give_back(self):
            return
        self.remove()

    def remove(self) -> None:
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


def _write_limits(dirs: list[Path], memory_mb: int | None, max_processes: int, v2: bool) -> None:
    """pids.max and the memory cap (v2: one group; v1: the pids group, then the memory group)."""
    (dirs[0] / "pids.max").write_text(str(max_processes))
    if memory_mb is not None:
        d, limit = dirs[-1], str(memory_mb << 20)
        (d / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(limit)
        swap = d / ("memory.swap.max" if v2 else "memory.memsw.limit_in_bytes")
        if swap.exists():
            try:
                swap.write_text("0" if v2 else limit)
            except OSError:
                if not v2:
                    raise


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
            _write_limits([d], memory_mb, max_processes, v2=True)
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
        _write_limits(made, memory_mb, max_processes, v2=False)
        return made
    except OSError:
        for d in made:
            try:
                d.rmdir()
            except OSError:
                pass
        return None


class _Pool:
    """Empty groups of this process, by (memory_mb, max_processes), waiting for the next command."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.free: dict[tuple[int | None, int], list[CgroupCaps]] = {}
        self.pid = os.getpid()
        atexit.register(self.drain)

    def take(self, memory_mb: int | None, max_processes: int, fsize_mb: int | None) -> CgroupCaps | None:
        with self.lock:
            free = self.free.get((memory_mb, max_processes))
            caps = free.pop() if free else None
        if caps is None:
            return None
        try:  # written again: a command running as root without the sandbox could have raised them
            _write_limits(caps.dirs, memory_mb, max_processes, v2=caps.kind == "cgroup2")
        except OSError:
            caps.remove()
            return None
        caps.fsize_mb = fsize_mb
        caps.count_memory_hits_from_now()
        return caps

    def keep(self, caps: CgroupCaps, memory_mb: int | None, max_processes: int) -> CgroupCaps:
        caps.pool, caps.pool_key = self, (memory_mb, max_processes)
        return caps

    def give_back(self, caps: CgroupCaps) -> bool:
        if os.getpid() != self.pid:  # a forked child: the groups are the parent's
            return False
        with self.lock:
            self.free.setdefault(caps.pool_key, []).append(caps)
        return True

    def drain(self) -> None:
        """Remove every free group (at exit; a killed escalate leaves them to the next one's sweep)."""
        if os.getpid() != self.pid:
            return
        with self.lock:
            groups = [c for free in self.free.values() for c in free]
            self.free.clear()
        for caps in groups:
            caps.pool = None
            caps.remove()


_POOL: _Pool | None = None


def _pool() -> _Pool:
    global _POOL
    if _POOL is None or _POOL.pid != os.getpid():
        _POOL = _Pool()
    return _POOL


def ensure_pool() -> None:
    """Make this process's pool now (its ``atexit`` drain runs after handlers registered later)."""
    _pool()


def tree_limits(memory_mb: int | None, max_processes: int, fsize_mb: int | None) -> TreeLimits:
    """The strongest cap available: a v2 cgroup, v1 cgroups, else per-process rlimits.

    A group this process made earlier for the same limits and emptied since is reused.
    """
    if os.environ.get("ESCALATE_NO_CGROUP") != "1":
        pool = _pool()
        reused = pool.take(memory_mb, max_processes, fsize_mb)
        if reused is not None:
            return reused
        name = f"escalate-{os.getpid()}-{next(_SEQ)}"
        v2 = _cgroup2(name, memory_mb, max_processes)
        if v2 is not None:
            return pool.keep(CgroupCaps("cgroup2", [v2], fsize_mb, memory_mb), memory_mb, max_processes)
        v1 = _cgroup1(name, memory_mb, max_processes)
        if v1 is not None:
            return pool.keep(CgroupCaps("cgroup1", v1, fsize_mb, memory_mb), memory_mb, max_processes)
    return RlimitCaps(memory_mb, max_processes, fsize_mb)
