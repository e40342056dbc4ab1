"""Host folders a sandboxed command needs to see that the sandbox would otherwise cover.

The sandbox mounts a fresh tmpfs over ``/tmp`` and an empty one over ``/run``. An interpreter that
lives there (a CI clone's venv at ``/tmp/clone/.ci-venv``, a venv whose ``.pth`` adds a folder
under ``/tmp``, an editable install whose source is there) would vanish inside the sandbox and the
tests would fail with ``No module named pytest``. So the command's interpreter is asked once per
process, outside the sandbox, where it imports from: its prefixes, ``sys.path`` (which holds what
``.pth`` files add) and the sources of setuptools' editable finders. Those under a covered folder
are bound back read-only at the same path.

That question runs the project's interpreter with ``-I`` in ``/``: only the interpreter's own
``.pth`` files run, which belong to the user's environment and which no model output can reach
(docs/security.md, "Code that runs outside the sandbox").
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

# Folders the sandbox covers with a tmpfs of its own: what lies beneath is gone unless bound back.
COVERED = (Path("/tmp"), Path("/run"))
PROBE_TIMEOUT_S = 30
_PYTHON_NAME = re.compile(r"python[0-9.]*$")
_WHERE = r"""
import json, sys
paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path]
for name, mod in list(sys.modules.items()):
    if name.startswith("__editable__") and isinstance(getattr(mod, "MAPPING", None), dict):
        paths += [str(p) for p in mod.MAPPING.values()]
print(json.dumps(paths))
"""
_CACHE: dict[str, tuple[Path, ...]] = {}
_PROBING = threading.Lock()  # one probe per interpreter: the baseline's runs ask at the same moment


def python_of(exe: str) -> str | None:
    """The Python that ``exe`` runs: itself when it is one, else its shebang's (a ``pytest`` script)."""
    found = shutil.which(exe) if os.sep not in exe else exe
    if found is None:
        return None
    if _PYTHON_NAME.match(Path(found).name):
        return found
    try:
        first = Path(found).read_bytes()[:256].split(b"\n", 1)[0].decode()
    except (OSError, UnicodeDecodeError):
        return None
    if not first.startswith("#!") or "python" not in first:
        return None
    words = shlex.split(first[2:])
    if not words:
        return None
    return shutil.which(words[-1]) if Path(words[0]).name == "env" else words[0]


def interpreter_paths(python: str) -> tuple[Path, ...]:
    """Where ``python`` imports from (prefixes, ``sys.path``, editable sources); asked once per process
    (callers at the same moment wait for the one probe)."""
    if python in _CACHE:
        return _CACHE[python]
    with _PROBING:
        if python not in _CACHE:
            _CACHE[python] = _probe(python)
    return _CACHE[python]


class ProbeError(Exception):
    """The interpreter could not be started or did not answer in JSON."""


def ask_interpreter(python: str, code: str) -> Any:
    """Run ``code`` with ``python -I`` in ``/`` with only ``PATH`` set (nothing from the cwd, PYTHON*
    variables or user site) and return the JSON its last line prints; raises ``ProbeError``."""
    try:
        out = subprocess.run(
            [python, "-I", "-c", code],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            cwd="/",
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        ).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise ProbeError(str(exc) or type(exc).__name__) from exc


def _probe(python: str) -> tuple[Path, ...]:
    try:
        return tuple(Path(p) for p in ask_interpreter(python, _WHERE) if p)
    except (ProbeError, TypeError):
        return ()  # the sandboxed probe (validation.tools.require_pytest) reports what is wrong


def prefetch(*commands: Sequence[str]) -> None:
    """Ask the commands' interpreters now, on a thread, while the run does other work: the first
    sandboxed run would otherwise wait for the answer (a Python start, ~0.15 s)."""

    def ask() -> None:
        for argv in commands:
            exe = (shutil.which(argv[0]) if os.sep not in argv[0] else argv[0]) if argv else None
            python = python_of(exe) if exe else None
            if python:
                interpreter_paths(python)

    threading.Thread(target=ask, name="escalate-interpreter-probe", daemon=True).start()


def covered(path: Path) -> bool:
    """Under a folder the sandbox covers with its own tmpfs."""
    return any(path.is_relative_to(c) and path != c for c in COVERED)


def visible_binds(argv: Sequence[str], *, tree: Path) -> list[tuple[str, str]]:
    """``(source, destination)`` pairs to bind read-only so that ``argv[0]`` works in the sandbox.

    Candidates: escalate's own prefixes (ruff installed with escalate), ``$VIRTUAL_ENV``, the folder
    two up from the executable (``<venv>/bin/x``), and everything its interpreter imports from. Kept:
    those under a covered folder and outside the tree (the tree is the sandbox's own copy). A symlinked
    path is bound at both its own and its target's place.
    """
    candidates: list[Path] = [Path(sys.prefix), Path(sys.base_prefix)]
    if os.environ.get("VIRTUAL_ENV"):
        candidates.append(Path(os.environ["VIRTUAL_ENV"]))
    exe = (shutil.which(argv[0]) if os.sep not in argv[0] else argv[0]) if argv else None
    if exe:
        candidates.append(Path(os.path.abspath(exe)).parent.parent)
        if python := python_of(exe):
            candidates += interpreter_paths(python)
    return _binds(candidates, tree=Path(tree))


def _binds(candidates: Iterable[Path], *, tree: Path) -> list[tuple[str, str]]:
    # os.path on strings, not pathlib: this runs for every sandboxed command (about 20 candidates),
    # and pathlib's resolve and is_relative_to made it most of building the bwrap command line.
    tree_s = os.path.realpath(tree)
    covered_s = tuple(str(c) + os.sep for c in COVERED)
    pairs: dict[str, str] = {}
    for candidate in candidates:
        path = os.path.abspath(candidate)
        try:
            real = os.path.realpath(path, strict=True)
        except OSError:
            continue  # a sys.path entry that does not exist (python311.zip)
        if not os.path.isdir(real):
            path = os.path.dirname(path)
            real = os.path.realpath(path)
        for dest in {real, path}:
            if dest.startswith(covered_s) and not (dest == tree_s or dest.startswith(tree_s + os.sep)):
                pairs[dest] = real
    kept: list[tuple[Path, Path]] = []
    for dest in sorted(map(Path, pairs), key=lambda p: len(p.parts)):  # a folder bound carries its insides
        src = Path(pairs[str(dest)])
        if not any(dest.is_relative_to(d) and src == s / dest.relative_to(d) for s, d in kept):
            kept.append((src, dest))
    return [(str(s), str(d)) for s, d in kept]
