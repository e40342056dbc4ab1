"""``escalate`` run inside the pytest process, for the attack rows that check no secret.

A row that checks secrets through ``/proc/<escalate pid>/environ`` needs escalate as its own
process with the secrets in its start environment, and keeps its subprocess. Every other row saves
the ~1.3 s of CPU a new interpreter spends importing the SDK by calling the real entry point here:
``main(argv, harden=False)``, the dumpable flag left alone (it would stay cleared in this process).
The run must leave this process as it found it (see ``process_state``), so rows stay independent.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from escalate.cli.main import main

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
def escalate_in_process(sim, capfd, monkeypatch):
    """A function (argv, cwd) -> CliRun: ``escalate <argv>`` (with ``--json``) in this process, against
    ``sim``, from ``cwd``. Asserts exactly one JSON object on stdout (fd 1, so the processes escalate
    starts count too) and that this process was left as found."""
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)

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
