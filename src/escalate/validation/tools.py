"""Which interpreter runs the project's tests and which ruff judges its lint, found once per run.

escalate may be installed apart from the project it fixes (pipx, ``uv tool``: its own venv, whose
bin folder is not on PATH), so neither ``python`` nor ``ruff`` on PATH can be trusted to be the
right one. The project's tests run with the project's interpreter, in this order:

1. ``validate.python`` (an explicit path or command);
2. the active virtual environment (``$VIRTUAL_ENV``);
3. the repository's own ``.venv/`` (or ``venv/``) in the user's checkout;
4. ``python`` (then ``python3``) on PATH.

ruff is the one installed with escalate (``ruff.find_ruff_bin()``), else ruff on PATH. Only the
default commands are rewritten: a ``test_command`` that does not start with ``python`` (``tox``,
``hatch run test``) or a ``ruff_command`` that does not start with ``ruff`` is left as written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.errors import ConfigError

if TYPE_CHECKING:
    from escalate.workspace.sandbox import Isolation

PYTHON_NAMES = ("python", "python3")
VENV_DIRS = (".venv", "venv")
PROBE_TIMEOUT_S = 30
_PROBED: set[tuple[str, Isolation | None]] = set()  # (interpreter, isolation) with pytest: once per process


@dataclass(frozen=True)
class Interpreter:
    """The project's Python: ``path`` and where it was found (``source``), for the decisions."""

    path: str
    source: str

    def describe(self) -> str:
        return f"{self.path} ({self.source})"


@dataclass(frozen=True)
class Tools:
    """The resolved commands of one run, and the interpreter the tests use (None: a custom command)."""

    test_command: list[str]
    ruff_command: list[str]
    interpreter: Interpreter | None
    ruff: str


def _venv_python(venv: Path) -> Path | None:
    for name in ("bin/python", "bin/python3", "Scripts/python.exe"):
        candidate = venv / name
        if candidate.exists():
            return candidate
    return None


def find_python(repo_root: Path, explicit: str | None, environ: dict[str, str] | None = None) -> Interpreter:
    """The project's interpreter (see the module docstring); ConfigError when there is none."""
    environ = dict(os.environ if environ is None else environ)
    if explicit:
        found = shutil.which(explicit) or (explicit if Path(explicit).exists() else None)
        if found is None:
            raise ConfigError(f"validate.python is {explicit!r}, which does not exist or is not executable.")
        return Interpreter(str(Path(found).absolute()), "validate.python")
    active = environ.get("VIRTUAL_ENV")
    if active and (python := _venv_python(Path(active))):
        return Interpreter(str(python), "the active virtual environment, $VIRTUAL_ENV")
    for name in VENV_DIRS:
        if python := _venv_python(repo_root / name):
            return Interpreter(str(python), f"the repository's {name}/")
    for name in PYTHON_NAMES:
        if found := shutil.which(name, path=environ.get("PATH")):
            return Interpreter(found, f"{name!r} on PATH")
    raise ConfigError(
        "No Python found for the project's tests: no $VIRTUAL_ENV, no .venv/ in the repository, and no "
        "python or python3 on PATH. Activate the project's virtual environment or set validate.python."
    )


def find_ruff(environ: dict[str, str] | None = None) -> str:
    """ruff installed with escalate (a dependency), else ruff on PATH."""
    try:
        from ruff.__main__ import find_ruff_bin

        return find_ruff_bin()
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("ruff", path=(environ or os.environ).get("PATH"))
    if found is None:
        raise ConfigError("ruff is not installed: `pip install ruff`, or set validate.ruff: false.")
    return found


def require_pytest(python: Interpreter, isolation: Isolation | None = None) -> None:
    """A clear error, before any model call, when the project's interpreter has no pytest.

    With a sandbox the probe runs inside it, with the run's own Isolation: an interpreter that
    works outside but cannot be seen or started inside is named here, not by every test run.
    """
    key = (python.path, isolation)
    if key in _PROBED or (python.path == sys.executable and not (isolation and isolation.sandboxed)):
        return  # escalate depends on pytest: its own interpreter has it
    if isolation is not None and isolation.sandboxed:
        inside = _probe_in_sandbox(python, isolation)
        if inside.ok:
            _PROBED.add(key)
            return
        if _probe_outside(python).returncode == 0:
            raise ConfigError(
                f"The project's Python {python.describe()} has pytest, but cannot import it inside the "
                f"sandbox (validate.sandbox: {isolation.sandbox}):\n{inside.describe()}"
                "Put the interpreter where the sandbox can see it (not under /tmp's hidden parts), or set "
                "validate.sandbox: none to run the tests without isolation."
            )
    probe = _probe_outside(python)
    if probe.returncode != 0:
        raise ConfigError(
            f"pytest is not installed for the project's Python, {python.describe()}. Install it there "
            f"(`{python.path} -m pip install pytest`), or point validate.python at one that has it."
        )
    _PROBED.add(key)


def _probe_in_sandbox(python: Interpreter, isolation: Isolation):
    from escalate.workspace.process import run_command

    with tempfile.TemporaryDirectory(prefix="escalate-probe-") as empty:
        return run_command([python.path, "-I", "-c", "import pytest"], Path(empty),
                           timeout_s=PROBE_TIMEOUT_S, isolation=isolation)  # fmt: skip


def _probe_outside(python: Interpreter) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [python.path, "-I", "-c", "import pytest"],  # -I: nothing from the cwd or PYTHON* env
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            cwd="/",
            env={"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"The project's Python {python.describe()} did not start: {exc}") from None


def resolve(
    test_command: list[str],
    ruff_command: list[str],
    repo_root: Path,
    explicit: str | None,
    isolation: Isolation | None = None,
) -> Tools:
    """The run's commands with ``python`` and ``ruff`` replaced by the ones found here; pytest is
    probed with ``isolation`` (the run's sandbox), as the tests will run."""
    interpreter = None
    if test_command and test_command[0] in PYTHON_NAMES:
        interpreter = find_python(repo_root, explicit)
        require_pytest(interpreter, isolation)
        test_command = [interpreter.path, *test_command[1:]]
    ruff = ""
    if ruff_command and ruff_command[0] == "ruff":
        ruff = find_ruff()
        ruff_command = [ruff, *ruff_command[1:]]
    return Tools(list(test_command), list(ruff_command), interpreter, ruff)
