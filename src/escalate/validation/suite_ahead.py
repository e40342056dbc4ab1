"""The full suite's first run, started beside the target tests' run.

Validation stops at the first failing stage and the target tests come before the full suite, so a
failed attempt never waits for the suite. One after the other, a passing attempt waits for both
runs. When every run has its own copy of the tree (the sandbox exports one per run, with its own
private ``/tmp``, network and process namespace), the two runs cannot meet, and the suite's first
run starts together with the targets': a passing attempt waits for the longer of the two, a failing
one kills the suite as soon as the targets' verdict is known. The verdicts are those of the runs one
after the other: the same commands on the same tree, each in its own copy. Unsandboxed, both would
run in the worktree itself, so they run one after the other (``validate.suite_beside_targets``
turns this off too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.validation.testrun import TestRun, run_pytest
from escalate.workspace.sandbox import isolation_for

if TYPE_CHECKING:
    from escalate.config import ValidateConfig


def can_start_beside(cfg: ValidateConfig, targets: list[str]) -> bool:
    """True when the suite may run beside the targets: both run, and each in its own sandbox."""
    wanted = bool(targets) and cfg.full_suite and cfg.suite_beside_targets
    return wanted and isolation_for(cfg).sandboxed


class SuiteAhead:
    """One full-suite run (``deselect`` left out) in a thread, started by ``start``; ``result`` waits
    for it, ``cancel`` kills it (before or after it began) and waits until it is gone."""

    def __init__(self, root: Path, cfg: ValidateConfig, deselect: list[str]) -> None:
        self._args = (root, cfg, deselect)
        self._lock = threading.Lock()
        self._kill: Callable[[], None] | None = None
        self._cancelled = False
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future[TestRun] | None = None
        self.runs = 0  # runs started (a run that aborts is tried once more, as any run is)

    @property
    def started(self) -> bool:
        return self._future is not None

    def start(self) -> None:
        if self._future is not None:
            return
        root, cfg, deselect = self._args
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="escalate-suite")
        self._future = self._pool.submit(self._run, root, cfg, deselect)

    def _run(self, root: Path, cfg: ValidateConfig, deselect: list[str]) -> TestRun:
        try:
            return run_pytest(root, cfg, [], deselect=deselect, on_start=self._on_start)
        finally:
            with self._lock:
                self._kill = None  # its process is gone: nothing of it may be killed any more

    def _on_start(self, kill: Callable[[], None]) -> None:
        with self._lock:
            self.runs += 1
            self._kill = kill
            if self._cancelled:
                kill()

    def result(self) -> TestRun:
        """The run's result (it must have been started)."""
        assert self._future is not None and self._pool is not None
        try:
            return self._future.result()
        except BaseException:  # Ctrl-C while waiting: kill the run, or shutdown() waits for its end
            self.cancel()
            raise
        finally:
            self._pool.shutdown(wait=True)

    def cancel(self) -> None:
        """Kill the run (now, or the moment it starts) and wait for its thread; safe to call twice."""
        with self._lock:
            self._cancelled = True
            if self._kill is not None:
                self._kill()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
