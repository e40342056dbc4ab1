"""Gates admitted to their caps before the command is known: the cgroup move off the command's path.

On cgroup v1 a write to ``cgroup.procs`` waits for an RCU grace period unless one passed moments
ago (the kernel's percpu rwsem): about 11 ms when commands are a suite apart, paid by every capped
command while it waited at its gate (``process.GATE``). So after a sandboxed command ends, a worker
thread starts the next one's first process ahead of time: ``/bin/sh`` in a session of its own,
stdin, stdout and stderr pipes to escalate, reading its script from stdin with a builtin
(``READY_GATE``), and moves it into a group of the same caps (``TreeLimits.admit``: cgroup.procs and
prlimit) while escalate reads the results and asks the model. The next sandboxed command with the
same caps and environment takes the oldest such gate and writes it one line, ``{ cd -- DIR && exec
ARGV </dev/null; }``, which the shell parses whole before running any of it. With none waiting
(the first command of a set of caps) it waits for the next one the worker admits: the same wait as
a gate of its own, which it falls back to only when none can be had.

What holds, as with the gate spawned per command:

* a gate whose admission failed is killed and never handed out; a gate that gets EOF before a whole
  script (escalate died, or a script was cut short) exits 126 or on a syntax error, running nothing;
* each gate is admitted only after the group it goes into was emptied and given back by the previous
  command's ``close`` (the pool hands a group to one user at a time), so no earlier command's
  cleanup can reach it; ``process`` also makes a command's kill function a no-op once it has ended;
* the gates' parent thread is this module's worker, which lives as long as escalate: bubblewrap's
  ``--die-with-parent`` (``PR_SET_PDEATHSIG``) follows the parent *thread*; a gate spawned by a
  thread that then ended would be handed to another thread of escalate, and its sandbox killed
  whenever that one ended;
* gates left at exit are killed and their groups given back for the pool's drain (``atexit``; a
  killed escalate's gates read EOF and exit, and the next escalate sweeps their groups);
* only sandboxed commands take one: bubblewrap clears the environment, so the gate's (``PATH``
  alone) is the command's own; other commands keep the per-command gate.
"""

from __future__ import annotations

import atexit
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from escalate.workspace.treelimits import CgroupCaps, ensure_pool, tree_limits

# The gate's whole program: run what arrives on stdin (a pipe; dash reads it in blocks, one read for
# a sandbox's command line), and if that returns or never came, fail without running anything.
READY_GATE = ". /dev/stdin; exit 126"
# Gates kept waiting per set of caps: two let back-to-back commands (ruff, then the targets' run beside
# the suite's first, ``validation.suite_ahead``) each start through one while the next is admitted.
GATES_PER_KEY = 2
MAX_KEYS = 4  # caps sets kept warm (the least recently used one's gates are ended)
TAKE_WAIT_S = 2.0  # a gate being admitted is waited for this long at most (the move takes ~11 ms)
OFF_SWITCH = "ESCALATE_NO_EARLY_GATE"  # "1": every command starts through its own gate (bench arm)
TRACE = "ESCALATE_GATE_TRACE"  # a file: one line per sandboxed command, how it started (for the tests)

Key = tuple[int | None, int, int | None, str]  # memory MiB, max processes, file size MiB, PATH


@dataclass
class ReadyGate:
    """A shell in its caps, waiting on stdin for its command."""

    key: Key
    proc: subprocess.Popen
    limits: CgroupCaps

    def start(self, argv: Sequence[str], cwd: Path) -> bool:
        """Hand the gate its command; False (nothing ran) if the gate is gone or would not take it."""
        script = f"{{ cd -- {shlex.quote(str(cwd))} && exec {shlex.join(argv)} </dev/null; }}\n"
        try:
            if self.proc.poll() is not None:
                return False
            self.proc.stdin.write(script.encode(sys.getfilesystemencoding(), "surrogateescape"))
            return True
        except (OSError, ValueError):
            return False
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def end(self) -> None:
        """Kill the gate and anything in its group, reap it and close its pipes; the group stays its
        holder's (``discard`` gives it back, a command that took the gate closes it as ever)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.limits.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass

    def discard(self) -> None:
        """End the gate (it runs nothing: it never got a script) and give its group back."""
        self.end()
        self.limits.close()


def key_for(
    memory_mb: int | None, max_processes: int, fsize_mb: int | None, env: dict[str, str]
) -> Key | None:
    """The key a command can take a gate by, or None when a gate cannot serve it (anything but PATH in
    its environment)."""
    if set(env) != {"PATH"} or os.environ.get(OFF_SWITCH) == "1":
        return None
    return (memory_mb, max_processes, fsize_mb, env["PATH"])


def usable(argv: Sequence[str], cwd: Path) -> bool:
    """Whether a script can say argv exactly (no NUL) and start where a spawned process would (cwd exists:
    a missing cwd is reported the usual way by the per-command path)."""
    return all("\0" not in a for a in (*argv, str(cwd))) and cwd.is_dir()


def trace(how: str) -> None:
    """Note how a sandboxed command started ("ahead", or "own: why") where ``$ESCALATE_GATE_TRACE`` says."""
    path = os.environ.get(TRACE)
    if path:
        with open(path, "a") as fh:
            fh.write(how + "\n")


class ReadyGates:
    """The gates waiting in their caps, by key; one worker thread spawns and admits them."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.cond = threading.Condition()
        self.ready: OrderedDict[Key, list[ReadyGate]] = OrderedDict()
        self.pending: dict[Key, int] = {}
        self.useless: set[Key] = set()  # no cgroup for these caps: nothing to move ahead of time
        self.jobs: queue.SimpleQueue[Key | None] = queue.SimpleQueue()
        self.closed = False
        self.worker: threading.Thread | None = None
        ensure_pool()  # the pool's drain is registered first, so it runs after this close
        atexit.register(self.close)

    def take(self, key: Key) -> ReadyGate | None:
        """A gate admitted for key: one waiting, else the next one admitted (``TAKE_WAIT_S`` at most; the
        same wait as a gate of the command's own). None when none can be had."""
        self.prepare(key)
        with self.cond:
            self.cond.wait_for(lambda: self.ready.get(key) or not self.pending.get(key), TAKE_WAIT_S)
            gates = self.ready.get(key)
            if not gates:
                return None
            gate = gates.pop(0)  # the oldest first
            self.ready.move_to_end(key)
        gate.limits.count_memory_hits_from_now()
        return gate

    def prepare(self, key: Key) -> None:
        """Have gates admitted for key in the background until ``GATES_PER_KEY`` wait or are on their way."""
        with self.cond:
            if self.closed or key in self.useless:
                return
            wanted = GATES_PER_KEY - len(self.ready.get(key, ())) - self.pending.get(key, 0)
            if wanted <= 0:
                return
            self.pending[key] = self.pending.get(key, 0) + wanted
            if self.worker is None:
                self.worker = threading.Thread(target=self._work, name="escalate-gates", daemon=True)
                self.worker.start()
        for _ in range(wanted):
            self.jobs.put(key)

    def _work(self) -> None:
        # Nothing may end this loop but close(): a dead worker would leave every later command waiting
        # TAKE_WAIT_S for gates that never come.
        while (key := self.jobs.get()) is not None:
            gate, capped, stale = None, True, []
            try:
                gate, capped = _admitted_gate(key)
            except Exception:  # noqa: BLE001 - a gate that could not be made only costs its command the move
                pass
            finally:
                with self.cond:
                    self.pending[key] -= 1
                    if not capped:
                        self.useless.add(key)
                    if gate is not None and not self.closed:
                        self.ready.setdefault(key, []).append(gate)
                        self.ready.move_to_end(key)
                        while len(self.ready) > MAX_KEYS:
                            stale += self.ready.popitem(last=False)[1]
                    elif gate is not None:
                        stale.append(gate)
                    self.cond.notify_all()
            for old in stale:
                try:
                    old.discard()
                except Exception:  # noqa: BLE001 - a gate that would not end is killed with escalate at exit
                    pass

    def close(self) -> None:
        """End every waiting gate (at exit); gates of a forked child's parent are left alone."""
        if os.getpid() != self.pid:
            return
        with self.cond:
            self.closed = True
        self.jobs.put(None)
        if self.worker is not None:
            self.worker.join(5)
        with self.cond:
            gates = [g for gs in self.ready.values() for g in gs]
            self.ready.clear()
        for gate in gates:
            gate.discard()

    def waiting(self) -> list[ReadyGate]:
        """The gates now waiting (for tests and the bench)."""
        with self.cond:
            return [g for gs in self.ready.values() for g in gs]


def _admitted_gate(key: Key) -> tuple[ReadyGate | None, bool]:
    """Spawn a gate and move it into a group of key's caps; None (and the gate killed) if that fails.
    The second value is False when these caps get no cgroup here (then a gate gains nothing)."""
    limits = tree_limits(*key[:3])
    if not isinstance(limits, CgroupCaps):
        limits.close()
        return None, False
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", READY_GATE, "escalate-gate"],
            cwd="/",
            env={"PATH": key[3]},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own process group: killpg reaches the command's children too
        )
    except (OSError, subprocess.SubprocessError):
        limits.close()
        return None, True
    gate = ReadyGate(key, proc, limits)
    try:
        limits.admit(proc.pid)
    except OSError:
        gate.discard()  # in neither group, or in one of two: killed either way, it never got a script
        return None, True
    return gate, True


_GATES: ReadyGates | None = None
_GATES_LOCK = threading.Lock()


def ready_gates() -> ReadyGates:
    """This process's gates (a forked child starts its own; its parent's are not its to use)."""
    global _GATES
    with _GATES_LOCK:
        if _GATES is None or _GATES.pid != os.getpid():
            _GATES = ReadyGates()
        return _GATES


def _after_fork_in_child() -> None:
    global _GATES_LOCK
    _GATES_LOCK = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)
