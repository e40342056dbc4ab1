"""Installing the project in the sandbox: its build code (``setup.py``, build backends, requirements'
install hooks) runs with the network but with nothing else worth stealing or steering.

``escalate install`` (and the GitHub Action's "Install the project" step) runs the install command in
bubblewrap with the environment cleared to the sandbox's allow-list, every secret-named variable and
the runner's command files (``$GITHUB_ENV``, ``$GITHUB_PATH``, ``$GITHUB_OUTPUT``, ...) out of reach,
and three places writable: the checkout itself (bound in place, its git directories read-only), the
project's Python environment (the prefix of the interpreter the tests use, ``validation.tools``'s
order: ``validate.python``, ``$VIRTUAL_ENV``, the repository's ``.venv/``) and pip's cache. Everything
else is read-only, escalate's own installation included; and escalate refuses to install into a
Python environment it imports from itself, where a build could plant a ``.pth`` file or
``sitecustomize`` that runs inside escalate's process, with its secrets. See docs/security.md.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from escalate.errors import EscalateError
from escalate.workspace.process import CommandResult, run_command
from escalate.workspace.sandbox import Isolation
from escalate.workspace.toolpaths import ProbeError, ask_interpreter

# The runner's command files: whatever a step writes there steers the later steps (escalate's own).
RUNNER_FILES = ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY")
DEFAULT_TIMEOUT_S = 1800.0


class InstallError(EscalateError):
    """The install cannot run as asked (no virtual environment, one shared with escalate, ...)."""


@dataclass(frozen=True)
class InstallPlan:
    """What one install runs and where it may write."""

    root: Path
    python: str  # the project's interpreter
    prefix: Path  # its environment, writable
    cache: Path | None  # pip's cache, writable
    commands: list[list[str]]
    masked: tuple[Path, ...] = ()

    @property
    def writable(self) -> list[Path]:
        return [self.root, self.prefix, *([self.cache] if self.cache else [])]


@dataclass
class InstallResult:
    plan: InstallPlan
    isolation: Isolation
    runs: list[CommandResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return len(self.runs) == len(self.plan.commands) and all(r.ok for r in self.runs)

    def to_json(self) -> dict:
        return {
            "outcome": "installed" if self.ok else "failed",
            "sandbox": {"mode": self.isolation.sandbox, "warning": self.isolation.why_not or None},
            "python": self.plan.python,
            "writable": [str(p) for p in self.plan.writable],
            "commands": [
                {"argv": r.argv, "exit_code": r.returncode, "timed_out": r.timed_out, "seconds": r.duration_s}
                for r in self.runs
            ],
        }


def default_commands(root: Path, python: str) -> list[list[str]]:
    """What the Action always ran: an editable install when the project has a build file, then its
    ``requirements.txt``; then pytest, which the project's environment needs to run its tests."""
    pip = [python, "-m", "pip", "install", "--quiet"]
    out = []
    if (root / "pyproject.toml").is_file() or (root / "setup.py").is_file():
        out.append([*pip, "-e", "."])
    if (root / "requirements.txt").is_file():
        out.append([*pip, "-r", "requirements.txt"])
    out.append([*pip, "pytest"])
    return out


def environment_of(python: str) -> tuple[Path, Path]:
    """``(sys.prefix, sys.base_prefix)`` of ``python``, asked as toolpaths asks an interpreter."""
    code = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix]))"
    try:
        prefix, base = ask_interpreter(python, code)
    except (ProbeError, TypeError, ValueError) as exc:
        raise InstallError(f"could not ask the project's Python {python} where it lives: {exc}") from exc
    return Path(prefix).resolve(), Path(base).resolve()


def own_import_roots() -> list[Path]:
    """Where escalate's own process imports from: its prefixes and every folder on its ``sys.path``."""
    roots = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    roots |= {Path(p) for p in sys.path if p and os.path.isdir(p)}
    return sorted({r.resolve() for r in roots})


def check_apart(writable: list[Path], roots: list[Path]) -> None:
    """InstallError when a writable place holds (or lies inside) a folder escalate imports from."""
    for place in writable:
        place = place.resolve()
        for root in roots:
            if root.is_relative_to(place) or place.is_relative_to(root):
                raise InstallError(
                    f"the install may write {place}, and escalate itself imports from {root}: a build "
                    "step could plant code that runs inside escalate, with its secrets. Install escalate "
                    "into its own virtual environment (python -m venv /path/escalate-venv; the GitHub "
                    "Action does this) and the project into another (validate.python, $VIRTUAL_ENV or "
                    ".venv/), or set validate.sandbox: none to install unsandboxed as before."
                )


def plan_install(
    root: Path,
    python: str,
    command: str | None,
    environ: dict[str, str] | None = None,
    *,
    sandboxed: bool = True,
) -> InstallPlan:
    """The commands, the project's environment and the pip cache; InstallError when a sandboxed install
    would be unsafe (unsandboxed, by choice, it writes wherever the command writes, as before)."""
    environ = dict(os.environ if environ is None else environ)
    root = Path(root).resolve()
    prefix, base = environment_of(python)
    if sandboxed and prefix == base:
        raise InstallError(
            f"the project's Python {python} is not a virtual environment (its prefix {prefix} is the "
            "interpreter's own installation, which the sandbox will not make writable). Create one "
            "(python -m venv .venv) or name one with validate.python or $VIRTUAL_ENV."
        )
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    cache = Path(environ.get("PIP_CACHE_DIR") or home / ".cache" / "pip")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        cache = None
    if command is None:
        commands = default_commands(root, python)
    else:
        commands = [["/bin/sh", "-c", command]]
    masked = tuple(Path(environ[name]) for name in RUNNER_FILES if environ.get(name))
    plan = InstallPlan(root, python, prefix, cache, commands, masked)
    if sandboxed:
        check_apart(plan.writable, own_import_roots())
    return plan


def install_environment(plan: InstallPlan, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables the install starts with (the sandbox's allow-list then filters them): the project's
    environment active (``VIRTUAL_ENV``, its ``bin`` first on PATH), pip's cache at the bound one."""
    env = dict(os.environ if environ is None else environ)
    env["VIRTUAL_ENV"] = str(plan.prefix)
    env["PATH"] = os.pathsep.join([str(plan.prefix / "bin"), env.get("PATH", "/usr/local/bin:/usr/bin:/bin")])
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if plan.cache is not None:
        env["PIP_CACHE_DIR"] = str(plan.cache)
    return env


def run_install(
    plan: InstallPlan, isolation: Isolation, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> InstallResult:
    """Run each command of the plan in turn (stopping at the first failure), sandboxed as isolation says,
    always with the network (an install needs it; ``validate.network`` is for the tests)."""
    pip_env = ("PIP_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK")
    iso = dataclasses.replace(isolation, network=True, pass_env=(*isolation.pass_env, *pip_env))
    result = InstallResult(plan, iso)
    env = install_environment(plan)
    for argv in plan.commands:
        if iso.sandboxed:
            run = run_command(
                argv, plan.root, timeout_s=timeout_s, env=env, isolation=iso, writable=plan.writable[1:],
                in_place=True, masked=plan.masked,
            )  # fmt: skip
        else:  # validate.sandbox: none, by choice: as before the sandbox, in the checkout, no caps
            run = run_command(argv, plan.root, timeout_s=timeout_s, env=env)
        result.runs.append(run)
        if not run.ok:
            break
    return result
