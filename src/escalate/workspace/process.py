"""Running the repository's own commands (tests, lint): sandboxed, secret-free, time- and memory-bounded.

Every validation subprocess goes through ``run_command``: given an ``Isolation`` it runs in
the bubblewrap sandbox (``escalate.workspace.sandbox``) with its process tree capped
(``escalate.workspace.treelimits``); in every case it gets ``safe_env()`` (no API keys or
tokens), its own process group (a timeout kills the test runner *and* anything it spawned),
and its output is read as it comes and capped, head and tail kept, so a test printing a
gigabyte cannot take escalate's memory. ``CommandResult.describe`` is the one place that
formats a command's outcome for people and for the model.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from escalate.workspace.capgate import ReadyGate, key_for, ready_gates, trace, usable
from escalate.workspace.sandbox import Isolation, bwrap_argv, sandbox_env, tree_bytes
from escalate.workspace.treelimits import TreeLimits, can_admit, tree_limits

# Variable names containing one of these (any case) never reach a validation subprocess.
SECRET_MARKERS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
ALWAYS_DROPPED = ("ANTHROPIC_API_KEY", "GITHUB_TOKEN")
# Grace period to collect output after the process group is killed.
REAP_TIMEOUT_S = 5.0
CHUNK = 1 << 16
# Output kept per stream when no Isolation says otherwise (head and tail, half each).
DEFAULT_OUTPUT_LIMIT = 8 << 20
# A capped command's first process: wait on stdin for escalate to put it in its cgroup and set its
# rlimits (``TreeLimits.admit``), then become the command with stdin from /dev/null. Anything but
# "go" (escalate died or could not cap it: the pipe closes) ends it before the command runs. This
# lets Popen vfork + exec; a ``preexec_fn`` forks escalate's whole process and runs Python in the
# child, which cost more than the caps themselves (docs/security.md, "What the sandbox costs").
GATE = 'IFS= read -r go && [ "$go" = go ] || exit 126; exec "$@" </dev/null'
GATE_FAILED = 126


def safe_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of base (default ``os.environ``) without secrets, plus ``PYTHONDONTWRITEBYTECODE=1``."""
    env = dict(os.environ if base is None else base)
    for name in list(env):
        upper = name.upper()
        if upper in ALWAYS_DROPPED or any(marker in upper for marker in SECRET_MARKERS):
            del env[name]
    # No __pycache__ in the worktree: bytecode would otherwise show up as state between attempts.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _indent(text: str, prefix: str = "    ") -> str:
    text = text.rstrip("\n")
    return (
        "\n".join(prefix + line if line else line for line in text.splitlines())
        if text
        else prefix + "(none)"
    )


@dataclass
class CommandResult:
    """The outcome of one command: returncode None means it was killed on timeout."""

    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    timeout_s: float | None = None
    cwd: str | None = None

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        """stdout and stderr together, for parsers that do not care which stream said what."""
        return self.stdout + ("\n" + self.stderr if self.stderr else "")

    def describe(self) -> str:
        """Command, exit code, stdout and stderr, indented (the pre-commit layout)."""
        code = (
            f"timed out after {self.timeout_s:g} s (process group killed)"
            if self.timed_out
            else self.returncode
        )
        return (
            f"command: {shlex.join(self.argv)}\n"
            f"exit code: {code}\n"
            f"stdout:\n{_indent(self.stdout)}\n"
            f"stderr:\n{_indent(self.stderr)}\n"
        )


class _CappedStream:
    """Reads one pipe to the end on its own thread, keeping at most limit bytes: the head and the tail."""

    def __init__(self, pipe, limit: int):
        self.pipe, self.half = pipe, max(limit // 2, 1)
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while chunk := self.pipe.read1(CHUNK) if hasattr(self.pipe, "read1") else self.pipe.read(CHUNK):
                room = self.half - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
                    chunk = chunk[room:]
                if chunk:
                    self.tail.append(chunk)
                    self.tail_size += len(chunk)
                    while self.tail_size - len(self.tail[0]) >= self.half:
                        self.dropped += len(self.tail[0])
                        self.tail_size -= len(self.tail.popleft())
        except (OSError, ValueError):
            pass  # the pipe was closed under us (the run is being torn down)

    def text(self) -> str:
        tail = b"".join(self.tail)
        if len(tail) > self.half:  # the oldest kept chunk may reach further back than needed
            self.dropped += len(tail) - self.half
            tail = tail[-self.half :]
        cut = f"\n[... {self.dropped} bytes of output cut; the head and the tail are kept ...]\n"
        body = bytes(self.head) + (cut.encode() if self.dropped else b"") + tail
        return body.decode("utf-8", errors="replace")


def _prepare(limits: TreeLimits | None, memory_limit_mb: int | None):
    if limits is None and memory_limit_mb is None:
        return None

    def apply() -> None:  # runs in the child between fork and exec
        if limits is not None:
            limits.enter()
        else:
            import resource

            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def run_command(
    argv: Sequence[str],
    cwd: Path,
    *,
    timeout_s: float,
    memory_limit_mb: int | None = None,
    env: Mapping[str, str] | None = None,
    isolation: Isolation | None = None,
    writable: Sequence[Path] = (),
    readable: Sequence[Path] = (),
    on_start: Callable[[Callable[[], None]], None] | None = None,
    in_place: bool = False,
    masked: Sequence[Path] = (),
) -> CommandResult:
    """Run argv in cwd with ``safe_env(env)``; on timeout kill its whole process tree.

    With ``isolation`` the command runs as that Isolation says (sandboxed when it names bwrap, see
    ``escalate.workspace.sandbox``; its tree capped by ``treelimits``); ``writable`` folders are the
    only host paths besides the tree's copy it may write, ``readable`` ones are shown read-only
    (both at their own path, also when the sandbox's fresh /tmp would cover them). Output is capped
    (head and tail kept). A missing executable, or a machine out of processes, is reported like a
    failed command (exit code 127 / 126), so callers show it to the user like any other failure.
    ``on_start`` is handed a function that kills the whole tree at once, for a caller that stops
    needing the answer (``validation.suite_ahead``). ``in_place`` and ``masked``: see ``bwrap_argv``
    (the project's install runs in the checkout itself).
    """
    argv = [str(a) for a in argv]
    cwd = Path(cwd)
    start = time.monotonic()
    clean_env = safe_env(env)
    limits: TreeLimits | None = None
    gate: ReadyGate | None = None
    key = None
    output_limit = DEFAULT_OUTPUT_LIMIT
    launch = argv
    if isolation is not None and not _findable(argv[0], cwd, clean_env):
        # bwrap (or the gate's shell) would say so its own way; a missing tool reads the same everywhere.
        why = f"[Errno 2] No such file or directory: {argv[0]!r}\n"
        return CommandResult(argv, 127, "", why, time.monotonic() - start, timeout_s, str(cwd))
    if isolation is not None:
        output_limit = isolation.output_limit_kb * 1024
        memory_mb = isolation.memory_limit_mb
        if isolation.sandboxed:
            size = 0 if in_place else tree_bytes(cwd)
            launch = bwrap_argv(
                argv, tree=cwd, iso=isolation, env=sandbox_env(clean_env, isolation), size=size,
                writable=writable, readable=readable, in_place=in_place, masked=masked,
            )  # fmt: skip
            clean_env = {"PATH": clean_env.get("PATH", "/usr/bin:/bin")}
            if memory_mb is not None:  # the tree's copy lives in a tmpfs the cap counts: not the tests'
                memory_mb += -(-size >> 20)
        caps = (memory_mb, isolation.max_processes, isolation.file_size_limit_mb)
        # A sandboxed command's environment is PATH alone: a gate admitted ahead of time can serve it.
        key = key_for(*caps, clean_env) if isolation.sandboxed and can_admit() else None
        if key is not None and usable(launch, cwd):
            gate = ready_gates().take(key)
        limits = gate.limits if gate is not None else tree_limits(*caps)
        if key is not None and gate is None:
            trace(f"own: {'no gate could be had' if usable(launch, cwd) else 'not one a script can say'}")
        memory_limit_mb = None  # the limits object applies it
    try:
        return _run(
            argv, launch, cwd, clean_env, timeout_s, limits, memory_limit_mb, output_limit, start, on_start,
            gate,
        )  # fmt: skip
    finally:
        if limits is not None:
            limits.close()
        if key is not None:  # the group is empty and back in the pool: the next command's gate goes in now
            ready_gates().prepare(key)


def _findable(exe: str, cwd: Path, env: Mapping[str, str]) -> bool:
    if os.sep in exe:
        return os.access(cwd / exe, os.X_OK)
    return shutil.which(exe, path=env.get("PATH")) is not None


def _run(
    argv, launch, cwd, env, timeout_s, limits, memory_limit_mb, output_limit, start, on_start=None, gate=None
) -> CommandResult:
    gated = limits is not None and can_admit()
    if gate is not None and not gate.start(launch, cwd):
        gate.end()  # the gate died waiting: nothing ran; the group is emptied for a gate of the command's own
        gate = None
        trace("own: the gate was gone")
    elif gate is not None:
        trace("ahead")
    if gate is not None:
        proc = gate.proc  # already in its caps: it runs the command as soon as it has read it
    else:
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", GATE, "escalate-gate", *launch] if gated else launch,
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE if gated else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # own process group: killpg reaches grandchildren too
                preexec_fn=None if gated else _prepare(limits, memory_limit_mb),
            )
        except (FileNotFoundError, PermissionError) as exc:
            return CommandResult(argv, 127, "", f"{exc}\n", time.monotonic() - start, timeout_s, str(cwd))
        except (BlockingIOError, subprocess.SubprocessError) as exc:  # no process slot left (a fork bomb)
            why = f"could not start the command: {exc}\n"
            return CommandResult(argv, 126, "", why, time.monotonic() - start, timeout_s, str(cwd))
        if gated and not _admit(proc, limits):
            _end(proc, limits)
            why = "could not start the command: its memory and process caps could not be set\n"
            return CommandResult(argv, GATE_FAILED, "", why, time.monotonic() - start, timeout_s, str(cwd))
    killer = _Killer(proc, limits)
    if on_start is not None:
        on_start(killer.kill)
    out = _CappedStream(proc.stdout, output_limit)
    err = _CappedStream(proc.stderr, output_limit)
    # A blocking wait and a timer that kills: Popen.wait(timeout) polls with sleeps of up to 50 ms,
    # which a short command pays in full (bench/sandbox.py showed it).
    expired = threading.Event()

    def on_timeout() -> None:
        expired.set()
        killer.kill()

    timer = threading.Timer(timeout_s, on_timeout)
    timer.daemon = True
    timer.start()
    try:
        returncode = proc.wait()
    except BaseException:
        timer.cancel()
        killer.end()  # Ctrl-C during a test run must not leave the tests running
        raise
    timer.cancel()
    code: int | None = None if expired.is_set() else returncode
    killer.end()
    for stream in (out, err):
        stream.thread.join(REAP_TIMEOUT_S)
    stderr = err.text()
    if any(s.thread.is_alive() for s in (out, err)):
        # Something outside the tree holds our pipes open; stop reading, keep what arrived.
        stderr += "(output cut: a process outside the run kept the pipes open)\n"
    if limits is not None and limits.memory_hit():
        stderr += f"(the process tree hit its memory limit: {limits.kind})\n"
    return CommandResult(argv, code, out.text(), stderr, time.monotonic() - start, timeout_s, str(cwd))


class _Killer:
    """Kills one command's tree until the command has ended, then nothing: its process group id and its
    group pass to later commands (a ready gate waits in the same group), which a late timer or a
    caller's kill (``on_start``) must not reach."""

    def __init__(self, proc: subprocess.Popen, limits: TreeLimits | None):
        self.proc, self.limits = proc, limits
        self.lock = threading.Lock()
        self.over = False

    def kill(self) -> None:
        with self.lock:
            if not self.over:
                _kill(self.proc, self.limits)

    def end(self) -> None:
        """Kill what is left of the tree, reap the command, and disarm ``kill``."""
        with self.lock:
            _kill(self.proc, self.limits)
            self.proc.wait()
            self.over = True


def _admit(proc: subprocess.Popen, limits: TreeLimits) -> bool:
    """Cap the gated process, then let it become the command; False (and it never runs) if that fails."""
    try:
        limits.admit(proc.pid)
        proc.stdin.write(b"go\n")
        return True
    except OSError:
        return False
    finally:
        try:
            proc.stdin.close()  # EOF without "go" ends the gate
        except OSError:
            pass


def _kill(proc: subprocess.Popen, limits: TreeLimits | None) -> None:
    """Kill the whole tree: the process group, the cgroup; the pid namespace goes with its first process."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if limits is not None:
        limits.kill()


def _end(proc: subprocess.Popen, limits: TreeLimits | None) -> None:
    _kill(proc, limits)
    proc.wait()
