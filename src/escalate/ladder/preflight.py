"""Everything a run checks before it makes a worktree or runs a test: mistakes cost nothing here.

- the tier models: a misspelt id is named with the closest known one, before any work;
- the tools: the project's interpreter (with pytest) and ruff (:mod:`escalate.validation.tools`);
- one run per task at a time: a lock in the repository's ``.escalate/locks/``;
- uncommitted edits in the checkout, which a later ``git merge`` of the fix branch would trip on.
"""

from __future__ import annotations

import difflib
import fcntl
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.errors import EscalateError, PriceError
from escalate.validation.tools import Tools, resolve
from escalate.workspace.hardening import minimal_env, safe_git
from escalate.workspace.sandbox import isolation_for

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.llm.catalog import Catalog
    from escalate.llm.pricing import PriceTable

LOCK_DIR = ".escalate/locks"


class TaskLocked(EscalateError):
    """Another escalate run holds this task's lock (exit 2, like any usage error)."""


@dataclass(frozen=True)
class Preflight:
    """What the checks found: the run's config with resolved tools, and uncommitted files."""

    config: Config
    tools: Tools
    dirty: list[str]


def check_models(config: Config, prices: PriceTable, static: Catalog) -> None:
    """Every tier's explicit model id is known (to the catalogue or the price table)."""
    known = sorted(set(static.models) | set(prices.models))
    for tier in config.tiers:
        model = tier.model
        if model is None or model in static or model in prices.models:
            continue
        close = difflib.get_close_matches(model, known, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise PriceError(
            f"tiers.{tier.name}.model: unknown model {model!r}.{hint} A model escalate does not know yet "
            f"needs its price: prices.{model}.input and prices.{model}.output in .escalate.yml."
        )


def resolve_tools(config: Config, repo_root: Path) -> tuple[Config, Tools]:
    """The config with ``test_command``/``ruff_command`` pointing at the tools found for this repo."""
    v = config.validate
    # The pytest probe runs as the tests will: in the sandbox validate.sandbox asks for.
    tools = resolve(list(v.test_command), list(v.ruff_command), repo_root, v.python, isolation_for(v))
    validate = v.model_copy(update={"test_command": tools.test_command, "ruff_command": tools.ruff_command})
    return config.model_copy(update={"validate": validate}), tools


def dirty_files(repo_root: Path) -> list[str]:
    """Tracked files with uncommitted changes in the user's checkout (git's own words, no index change)."""
    try:
        # `status` refreshes the index and would run a clean filter planted in the repository's config.
        out = subprocess.run(
            safe_git(repo_root, "status", "--porcelain=v1", "-z", "--untracked-files=no"),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env=minimal_env({"LC_ALL": "C"}),
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})


class TaskLock:
    """An advisory lock per task slug, held for the whole run; released by the OS if escalate dies."""

    def __init__(self, repo_root: Path, slug: str):
        self.path = repo_root / LOCK_DIR / f"{slug}.lock"
        self._fd: int | None = None

    def __enter__(self) -> TaskLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> TaskLock:
        """Take the lock, or raise TaskLocked naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise TaskLocked(
                f"Another escalate run is already working on this task (pid {holder}, lock {self.path}); "
                f"wait for it to end, or stop it."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def check(config: Config, repo_root: Path, prices: PriceTable, static: Catalog) -> Preflight:
    """All checks but the lock (a context manager the run holds): models, tools, dirty files."""
    check_models(config, prices, static)
    config, tools = resolve_tools(config, repo_root)
    return Preflight(config, tools, dirty_files(repo_root))
