"""Two ways to run ``escalate`` for the attack rows without paying, per row, the ~1.3 s of CPU a new
interpreter spends importing the SDK:

- ``escalate_in_process``, for the rows that check no secret: the real entry point called in the
  pytest process, ``main(argv, harden=False)`` (the dumpable flag left alone: it would stay cleared
  here). The run must leave this process as it found it (``process_state``), so rows stay independent.
- ``warm_escalate``, for the rows that look for secrets, also through ``/proc/<escalate pid>/environ``
  (which shows a process's environment as it started): escalate stays a process of its own, forked
  from a warm interpreter that was started with the secrets in its environment and has escalate and
  the SDK imported. The fork's ``/proc/<pid>/environ`` is that start environment (checked before each
  run); the fork then runs the command's own path (``main()`` on ``sys.argv``: hardened, its own exit).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from escalate.cli.main import main
from escalate.sim.testing import DEFAULT_KEY

PR_GET_DUMPABLE = 3


@dataclass(frozen=True)
class CliRun:
    """One finished in-process command: its exit code, its one ``--json`` object and what it printed."""

    exit_code: int
    json: dict
    stdout: str
    stderr: str


def process_state() -> dict[str, object]:
    """What an in-process run could change in this process and must put back."""
    import resource

    from escalate.workspace import worktree

    state: dict[str, object] = {
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "signals": {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)},
        "showwarning": warnings.showwarning,
        "threads": sorted(t.name for t in threading.enumerate() if not t.daemon),
        "open worktrees": list(worktree._OPEN),
        "rlimits": [
            resource.getrlimit(r) for r in (resource.RLIMIT_AS, resource.RLIMIT_NPROC, resource.RLIMIT_FSIZE)
        ],
        "umask": os.umask(os.umask(0o022)),
    }
    if sys.platform == "linux":
        import ctypes

        state["dumpable"] = ctypes.CDLL(None).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)
    return state


@pytest.fixture
def escalate_in_process(env, capfd, monkeypatch):
    """A function (argv, cwd) -> CliRun: ``escalate <argv>`` (with ``--json``) in this process, against
    the sim (``env``), from ``cwd``. Asserts exactly one JSON object on stdout (fd 1, so the processes
    escalate starts count too) and that this process was left as found."""

    def run(argv: list[str], cwd: Path) -> CliRun:
        assert "--json" in argv
        monkeypatch.chdir(cwd)
        before = process_state()
        capfd.readouterr()
        code = main(argv, harden=False)
        out, err = capfd.readouterr()
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1, f"--json must print one object:\n{out}\n{err[-3000:]}"
        after = process_state()
        changed = {key: (before[key], after.get(key)) for key in before if after.get(key) != before[key]}
        assert not changed, f"the in-process run left this process changed: {changed}"
        return CliRun(code, json.loads(lines[0]), out, err)

    return run


# -- escalate forked from a warm interpreter ----------------------------------------------------------

# The modules a `fix` or `batch submit` run imports that cost: escalate's stages, the SDK, GitPython.
WARM_PRELOAD = ("escalate.cli.fix", "escalate.ladder.run", "escalate.cli.batch", "escalate.batch.submit",
                "anthropic", "git")  # fmt: skip

# Reads one JSON request a line; forks; the fork becomes `escalate <argv>` (a session of its own, cwd,
# stdout/stderr to files); the parent answers its pid, waits (killing the session at the deadline) and
# answers how it ended.
WARM_SERVER = r"""
import importlib, json, os, signal, sys, time, traceback

for name in sys.argv[1:]:
    importlib.import_module(name)
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.chdir(req["cwd"])
            out = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            files = ((0, os.devnull, os.O_RDONLY), (1, req["stdout"], out), (2, req["stderr"], out))
            for fd, path, flags in files:
                opened = os.open(path, flags, 0o600)
                os.dup2(opened, fd)
                os.close(opened)
            with open("/proc/self/environ", "rb") as fh:
                start = fh.read().split(b"\0")
            missing = [n for n, v in req["in_start_environ"].items() if f"{n}={v}".encode() not in start]
            if missing:
                raise SystemExit(f"not in the start environment: {missing}")
            os.environ.update(req["env"])
            sys.argv = ["escalate", *req["argv"]]
            from escalate.cli.main import main
        except BaseException:
            traceback.print_exc()
            os._exit(70)
        sys.exit(main())  # the command's own exit; the fork never returns to this loop
    print(json.dumps({"pid": pid}), flush=True)
    deadline, timed_out = time.monotonic() + req["timeout_s"], False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            timed_out = True
            break
        time.sleep(0.05)
    answer = {"exit_code": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss,
              "timed_out": timed_out}
    print(json.dumps(answer), flush=True)
"""


@dataclass(frozen=True)
class ProcessRun:
    """One finished escalate process: exit code, what it printed, and the peak RSS of it and the
    processes it waited for."""

    exit_code: int
    stdout: str
    stderr: str
    peak_rss_mb: float


class WarmEscalate:
    """A warm interpreter, started with ``secrets`` in its environment, that forks one escalate
    process per ``run``; one command at a time."""

    def __init__(self, secrets: dict[str, str]):
        self.start_env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
        self.start_env.update({"ANTHROPIC_API_KEY": DEFAULT_KEY, **secrets})
        self.secrets = {"ANTHROPIC_API_KEY": DEFAULT_KEY, **secrets}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", WARM_SERVER, *WARM_PRELOAD],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.start_env, text=True,
        )  # fmt: skip

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def run(
        self, argv: list[str], *, cwd: Path, env: dict[str, str], out_dir: Path, timeout_s: float
    ) -> ProcessRun:
        """``escalate <argv>`` in a fork with ``env`` added to os.environ (the start environment, with the
        secrets, stays what ``/proc/<pid>/environ`` shows); raises when it outlives ``timeout_s``."""
        out, err = out_dir / "stdout", out_dir / "stderr"
        request = {"argv": argv, "cwd": str(cwd), "env": env, "stdout": str(out), "stderr": str(err),
                   "timeout_s": timeout_s, "in_start_environ": self.secrets}  # fmt: skip
        pid = None
        try:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            pid = json.loads(self._proc.stdout.readline() or "{}").get("pid")
            line = self._proc.stdout.readline()
        except BaseException:  # interrupted mid-run (pytest's timeout): end it; the next row starts anew
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            self._proc.kill()
            self._proc.wait()
            raise
        assert pid and line, "the warm interpreter died"
        answer = json.loads(line)
        assert not answer["timed_out"], f"escalate {argv[0]} did not end within {timeout_s} s"
        return ProcessRun(
            answer["exit_code"], out.read_text(errors="replace"), err.read_text(errors="replace"),
            answer["maxrss_kb"] / 1024,
        )  # fmt: skip

    def close(self) -> None:
        if self.alive:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


@pytest.fixture(scope="session")
def warm_escalate():
    """A function (secrets) -> WarmEscalate: one warm interpreter per set of secrets, for the session."""
    started: dict[tuple, WarmEscalate] = {}

    def get(secrets: dict[str, str]) -> WarmEscalate:
        key = tuple(sorted(secrets.items()))
        if key not in started or not started[key].alive:
            started[key] = WarmEscalate(secrets)
        return started[key]

    yield get
    for warm in started.values():
        warm.close()
