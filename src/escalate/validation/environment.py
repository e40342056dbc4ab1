"""Is the tree under test importable the way the user's environment would import it?

Two questions, asked before any model call, because no patch can answer them:

- Does each of the project's packages import from the tree under test (not from some
  other copy), and when it does not, is the cause the environment (a dependency not
  installed, a generated file such as ``_version.py`` missing) rather than the code?
- Is a collection error of a target test an environment problem (``No module named
  'numpy'``) rather than a bug (a misspelt import of the project's own module)?

An environment problem stops the run with the command that would fix it.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.errors import EscalateError
from escalate.validation.testrun import import_env
from escalate.workspace.buildout import python_packages
from escalate.workspace.process import run_command
from escalate.workspace.sandbox import isolation_for

if TYPE_CHECKING:
    from escalate.config import ValidateConfig

__all__ = ["EnvironmentProblem", "check_imports", "project_python", "missing_dependency"]

_NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")
_IMPORT_CHECK = """
import importlib, json, sys, traceback
out = {}
for name in sys.argv[1:]:
    try:
        mod = importlib.import_module(name)
        out[name] = {"file": getattr(mod, "__file__", None)}
    except BaseException as exc:
        out[name] = {"error": type(exc).__name__, "missing": getattr(exc, "name", None),
                     "text": "".join(traceback.format_exception_only(type(exc), exc)).strip()}
print("ESCALATE-IMPORTS " + json.dumps(out))
"""


class EnvironmentProblem(EscalateError):
    """The tree under test cannot be tested as it is: something outside the code is missing.
    ``fix`` is the command that would fix it."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message + (f"\nTo fix it: {fix}" if fix else ""))
        self.fix = fix


@dataclass
class ImportResult:
    package: str
    file: str | None = None
    error: str | None = None
    missing: str | None = None
    text: str = ""


def project_python(cfg: ValidateConfig) -> str:
    """The interpreter that runs the project's tests: ``X -m pytest`` -> X; an executable ``pytest``
    -> the interpreter on its shebang line; else this interpreter."""
    cmd = list(cfg.test_command)
    if len(cmd) >= 3 and cmd[1:3] == ["-m", "pytest"]:
        return cmd[0]
    exe = shutil.which(cmd[0]) if cmd else None
    if exe:
        try:
            first = Path(exe).read_bytes()[:256].split(b"\n", 1)[0].decode()
        except (OSError, UnicodeDecodeError):
            first = ""
        if first.startswith("#!") and "python" in first:
            return shlex.split(first[2:])[-1] if "env " in first else shlex.split(first[2:])[0]
    return sys.executable


def generated_files(root: Path) -> set[str]:
    """Files the build writes that pyproject.toml names (hatch-vcs / setuptools-scm version files)."""
    try:
        data = tomllib.loads((Path(root) / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return set()
    tool = data.get("tool", {})
    names = {
        tool.get("setuptools_scm", {}).get("write_to"),
        tool.get("setuptools_scm", {}).get("version_file"),
        tool.get("hatch", {}).get("build", {}).get("hooks", {}).get("vcs", {}).get("version-file"),
        tool.get("hatch", {}).get("version", {}).get("raw-options", {}).get("version_file"),
        tool.get("pdm", {}).get("version", {}).get("write_to"),
    }
    return {str(n).replace("\\", "/") for n in names if n}


def _module_file(root: Path, module: str) -> str:
    rel = module.replace(".", "/")
    for base in ("src/", ""):
        if (Path(root) / base / rel.split("/")[0]).exists():
            return f"{base}{rel}.py"
    return f"{rel}.py"


def _own_top_levels(root: Path) -> set[str]:
    root = Path(root)
    names = {Path(p).name for p in python_packages(root)}
    for base in (root / "src", root):
        if base.is_dir():
            names.update(p.stem for p in base.glob("*.py"))
            names.update(p.name for p in base.iterdir() if p.is_dir() and p.name.isidentifier())
    return names


def missing_dependency(root: Path, cfg: ValidateConfig, text: str) -> EnvironmentProblem | None:
    """The environment problem behind an import failure's text, or None when it reads like a bug."""
    match = _NO_MODULE.search(text)
    if not match:
        return None
    module = match.group(1)
    python = project_python(cfg)
    top = module.split(".")[0]
    if top not in _own_top_levels(root):
        install = (
            f"{shlex.quote(python)} -m pip install -e <your checkout>  (installs the project's dependencies)"
            if (Path(root) / "pyproject.toml").is_file() or (Path(root) / "setup.py").is_file()
            else f"{shlex.quote(python)} -m pip install {top}"
        )
        return EnvironmentProblem(
            f"The tests cannot import {module!r}: it is neither part of the repository nor installed "
            f"for {python}.",
            install,
        )
    wanted = _module_file(root, module)
    if wanted in generated_files(root) or module.rsplit(".", 1)[-1] in ("_version", "version"):
        return EnvironmentProblem(
            f"The tests cannot import {module!r}: {wanted} is written when the project is installed "
            "(a generated version file) and is missing in your checkout, so escalate cannot copy it.",
            f"cd <your checkout> && {shlex.quote(python)} -m pip install -e .",
        )
    return None


def check_imports(root: Path, cfg: ValidateConfig) -> list[ImportResult]:
    """Import each of the project's packages from the tree under test; raise EnvironmentProblem when
    one fails for an environment reason or imports from somewhere else. A failure that reads like a
    bug in the code is left for the tests to show."""
    root = Path(root)
    names = [Path(p).name for p in python_packages(root)]
    if not names:
        return []
    python = project_python(cfg)
    run = run_command(
        [python, "-c", _IMPORT_CHECK, *names],
        root,
        timeout_s=min(cfg.timeout_s, 120),
        env=import_env(root),
        isolation=isolation_for(cfg),  # importing the project runs its code
    )
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("ESCALATE-IMPORTS ")), None)
    if line is None:
        if run.returncode == 127:
            raise EnvironmentProblem(
                f"The project's interpreter {python} cannot be run.\n{run.describe()}",
                "set validate.test_command to the project's interpreter, e.g. [.venv/bin/python, -m, pytest]",
            )
        return []  # the package's import hung or crashed the interpreter: the tests will show it
    results = [ImportResult(name, **data) for name, data in json.loads(line.split(" ", 1)[1]).items()]
    for r in results:
        if r.error:
            problem = missing_dependency(root, cfg, r.text)
            if problem is not None:
                raise EnvironmentProblem(
                    f"The package {r.package!r} does not import from the tree under test: {r.text}\n"
                    + str(problem).split("\nTo fix it:")[0],
                    problem.fix,
                )
        elif r.file and not _inside(r.file, root):
            raise EnvironmentProblem(
                f"The package {r.package!r} imports from {r.file}, not from the tree under test ({root}), "
                f"so the tests would not see a patch.",
                f"check that {python} is the project's interpreter and that no other copy of "
                f"{r.package!r} shadows the repository's",
            )
    return results


def _inside(path: str, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False
