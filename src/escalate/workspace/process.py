"""Running the repository's own commands (tests, lint): secret-free, time- and memory-bounded.

Every validation subprocess goes through ``run_command``: it gets ``safe_env()`` (no API
keys or tokens reach the code under test), its own process group (a timeout kills the
test runner *and* anything it spawned), and an address-space limit so a test that
allocates without bound fails instead of taking the machine. ``CommandResult.describe``
is the one place that formats a command's outcome for people and for the model.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Variable names containing one of these (any case) never reach a validation subprocess.
SECRET_MARKERS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
ALWAYS_DROPPED = ("ANTHROPIC_API_KEY", "GITHUB_TOKEN")
# Grace period to collect output after the process group is killed.
REAP_TIMEOUT_S = 5.0


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


def _limits(memory_limit_mb: int | None):
    if memory_limit_mb is None:
        return None

    def apply() -> None:  # runs in the child between fork and exec
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
) -> CommandResult:
    """Run argv in cwd with ``safe_env(env)``; on timeout kill its whole process group.

    A missing executable is reported like a failed command (exit code 127), so callers
    show it to the user the same way as any other failure.
    """
    argv = [str(a) for a in argv]
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=safe_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # own process group: killpg reaches grandchildren too
            preexec_fn=_limits(memory_limit_mb),
        )
    except (FileNotFoundError, PermissionError) as exc:
        return CommandResult(argv, 127, "", f"{exc}\n", time.monotonic() - start, timeout_s, str(cwd))
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            stdout, stderr = proc.communicate(timeout=REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # Something escaped the group and holds our pipes open; stop reading, but reap.
            proc.kill()
            stdout, stderr = "", "(output lost: a process outside the group kept the pipes open)\n"
            proc.wait()
        code = None
    except BaseException:
        _kill_group(proc)  # Ctrl-C during a test run must not leave the tests running
        proc.wait()
        raise
    return CommandResult(
        argv, code, stdout or "", stderr or "", time.monotonic() - start, timeout_s, str(cwd)
    )


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
