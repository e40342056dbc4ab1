"""The judge's files: what decides how tests and lint judge a patch, taken from the base commit.

A patch that may edit its own judge can forge its verdict: a ``conftest.py`` hook that reports
"passed", an edited assertion, a ``ruff.toml`` that selects nothing. So, as SWE-bench's harness
does, these files are the base commit's whatever the patch did:

* every ``conftest.py`` (added ones too), ``pytest.ini``, ``.pytest.ini``, ``pytest.toml``,
  ``.pytest.toml``, ``ruff.toml``, ``.ruff.toml`` and ``.gitattributes``, at any depth (pytest
  and ruff look for configuration next to the files they check, so a new ``tests/pytest.ini``
  would be the one pytest reads);
* the pytest and ruff sections of ``pyproject.toml``, ``setup.cfg`` and ``tox.ini``
  (the rest of those files may change);
* every test file that exists at base (``test_*.py``, ``*_test.py``, the target tests' files,
  any file under a ``tests``/``test``/``testing`` directory, test data included): target tests
  run in their base version; an ``__init__.py`` in a test directory, added ones too (it runs
  before the tests under it);
* modules that would replace pytest or run at interpreter start from the import path the tests
  run with (``pytest``, ``_pytest``, ``pluggy``, ``sitecustomize``, ``usercustomize`` at the
  root or under ``src/``).

New test files may be added: they run and are kept. The editor refuses edits to the judge's
files (``JudgeFiles.refusal``); whatever still appears (a test run writing into the tree) is put
back as the base has it before judging (``JudgeFiles.discard``), and reported.
"""

from __future__ import annotations

import configparser
import posixpath
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

# pytest reads pytest.toml, .pytest.toml (pytest 9), pytest.ini and .pytest.ini before pyproject.toml:
# a new one would replace the base's settings (and load a plugin that reports every test passed).
WHOLE_FILES = (
    "conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "ruff.toml", ".ruff.toml",
    ".gitattributes",
)  # fmt: skip
TEST_DIRS = ("tests", "test", "testing")
SHADOWING = ("pytest", "_pytest", "pluggy", "sitecustomize", "usercustomize")
# Sections of shared config files that judge: pytest's and ruff's.
INI_SECTIONS = {"setup.cfg": ("tool:pytest",), "tox.ini": ("pytest",)}
PYPROJECT_TABLES = ("pytest", "ruff")


class ChangeSet(Protocol):
    """What judging needs from a workspace (``escalate.workspace.worktree.Workspace`` is one)."""

    def changes(self, tree: str | None = None) -> Iterable: ...  # items with .path and .status (A, M, D)

    def base_paths(self) -> list[str]: ...

    def read_base(self, rel: str) -> bytes | None: ...

    def read_file(self, rel: str) -> bytes | None: ...

    def restore_from_base(self, paths: list[str]) -> None: ...


@dataclass(frozen=True)
class Discarded:
    """A change put back as the base has it before judging, and why."""

    path: str
    why: str

    def __str__(self) -> str:
        return f"{self.path} ({self.why})"


def _name(rel: str) -> str:
    return posixpath.basename(rel).casefold()


def is_test_file(rel: str) -> bool:
    """A test module pytest would collect, or any file of a test directory (helpers, test data)."""
    name = _name(rel)
    dirs = [p.casefold() for p in rel.split("/")[:-1]]
    if any(d in TEST_DIRS for d in dirs):
        return True
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _shadows(rel: str) -> bool:
    """A module at the root or under src/ (both on the tests' import path) named like pytest's own."""
    parts = rel.casefold().split("/")
    if parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if len(parts) == 1:
        return parts[0].endswith(".py") and parts[0][: -len(".py")] in SHADOWING
    return parts[0] in SHADOWING


def _judged_sections(name: str, data: bytes | None) -> object:
    """The pytest/ruff part of a shared config file, comparable with ==; None when it has none."""
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
        if name == "pyproject.toml":
            tool = tomllib.loads(text).get("tool")
            tables = {k: tool[k] for k in PYPROJECT_TABLES if isinstance(tool, dict) and k in tool}
            return tables or None
        parser = configparser.RawConfigParser(strict=False)
        parser.read_string(text)
        sections = {s: dict(parser.items(s)) for s in INI_SECTIONS[name] if parser.has_section(s)}
        return sections or None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error):
        return "<unreadable>"  # differs from any parsed value: an unreadable change is discarded


def judge_reason(
    rel: str, old: bytes | None, new: bytes | None, *, at_base: bool, tests: Iterable[str] = ()
) -> str | None:
    """Why changing rel from old to new (None: absent) would change the judge, or None.

    ``at_base``: rel exists in the base commit; ``tests``: files of the target tests.
    """
    name = _name(rel)
    if name in WHOLE_FILES:
        return f"{name} decides how tests or lint judge the patch"
    if name == "__init__.py" and is_test_file(rel):
        # Imported before every test module under it (a new one too): it could patch the code under test.
        return "a test package's __init__.py runs before the tests under it"
    if name in INI_SECTIONS or name == "pyproject.toml":
        if _judged_sections(name, old) != _judged_sections(name, new):
            return f"the pytest/ruff settings in {name} judge the patch"
        return None
    if at_base and (is_test_file(rel) or rel.casefold() in {t.casefold() for t in tests}):
        return "an existing test file: tests run as the base commit has them"
    if _shadows(rel):
        return "would replace pytest or run at interpreter start"
    return None


def _doctest_of_module(nodeid: str) -> bool:
    """``pkg/mod.py::pkg.mod.func``: a doctest item (its name is dotted) collected from a .py module."""
    path, _, item = nodeid.partition("::")
    return path.endswith(".py") and "." in item.split("[", 1)[0]


class JudgeFiles:
    """The judge's files of one workspace, against its base commit (see the module docstring)."""

    def __init__(
        self, base_paths: Iterable[str], read_base: Callable[[str], bytes | None], tests: Iterable[str] = ()
    ) -> None:
        self._at_base = {p.casefold(): p for p in base_paths}
        self._read_base = read_base
        # The target tests' files are the judge's even where python_files names them unusually;
        # not a module whose doctest is the target: it is the code under test, the fix lives there.
        self.tests = sorted({t.split("::")[0] for t in tests if not _doctest_of_module(t)})
        self._only: set[str] | None = None  # set by only(): nothing else judges

    @classmethod
    def of(cls, ws: ChangeSet, target_tests: Iterable[str] = ()) -> JudgeFiles:
        return cls(ws.base_paths(), ws.read_base, target_tests)

    @classmethod
    def only(cls, ws: ChangeSet, paths: Iterable[str]) -> JudgeFiles:
        """Just these files (an issue's reproduction test), with ``validate.verdict_from_base`` off:
        the runner's own proof of the fix stays the base's even where the repository's tests may change."""
        kept = {p.casefold() for p in paths}
        files = cls([p for p in ws.base_paths() if p.casefold() in kept], ws.read_base, paths)
        files._only = kept
        return files

    def _judges(self, rel: str) -> bool:
        return self._only is None or rel.casefold() in self._only

    def _base_path(self, rel: str) -> str | None:
        # Case-insensitively: on macOS `Tests/Test_ops.py` is the base's tests/test_ops.py.
        return self._at_base.get(rel.casefold())

    def refusal(self, rel: str, new_text: str | None) -> str | None:
        """The editor's check before a write: why it is refused (a sentence), or None. Without the
        new text (None: the path alone), the shared config files are let through to the second check."""
        if not self._judges(rel) or (new_text is None and _name(rel) in (*INI_SECTIONS, "pyproject.toml")):
            return None
        base = self._base_path(rel)
        old = self._read_base(base) if base is not None else None
        # "replace": a lone surrogate in the text is refused at the write, not raised here
        new = new_text.encode("utf-8", errors="replace") if new_text is not None else None
        why = judge_reason(rel, old, new, at_base=base is not None, tests=self.tests)
        if why is None:
            return None
        return (
            f"{rel} is one of the files that judge a patch ({why}); they are taken from the base commit, "
            "so edits to them are refused. Fix the code under test; new test files may be added."
        )

    def discard(self, ws: ChangeSet, tree: str | None = None) -> list[Discarded]:
        """Put the judge's files that the change set touches back as the base has them; what was put back.
        ``tree``: the working state's tree hash, when the caller has it."""
        found = []
        for change in ws.changes(tree):
            if not self._judges(change.path):
                continue
            base = self._base_path(change.path)
            old = self._read_base(base) if base is not None else None
            new = ws.read_file(change.path) if change.status != "D" else None
            why = judge_reason(change.path, old, new, at_base=base is not None, tests=self.tests)
            if why is not None:
                found.append(Discarded(change.path, why))
        if found:
            ws.restore_from_base([d.path for d in found])
        return found
