"""Does a test writer's test reproduce the issue? Judged by running it on the unchanged code.

Accepted only when all of these hold:

- only test files changed (no deletions); existing tests are neither changed nor removed
  (compared function by function with the base's source, by ``ast``);
- at least one new test function was added, and pytest collected it;
- every new test FAILS at base: not passes, not skips, not an error in collection or set-up;
- it fails for a reason about the code, not a mistake in the test: an exception raised in the
  test file itself that only a broken test raises (``NameError``, ``ImportError``,
  ``ModuleNotFoundError``, ``SyntaxError``, ``IndentationError``, an ``AttributeError`` for a
  module attribute that does not exist) rejects it, while the same exception raised inside the
  code under test is the issue's failure and counts. (A name the issue asks for that does not
  exist yet is asserted, ``hasattr(module, "name")``, not imported: the rejection says so.)
"""

from __future__ import annotations

import ast
import re
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.validation.testrun import run_pytest

if TYPE_CHECKING:
    from escalate.config import ValidateConfig
    from escalate.validation.junit import CaseResult

_TEST_PATH = re.compile(r"(^|/)(tests?/.*\.py|test_[^/]*\.py|[^/]*_test\.py)$")
TEST_MISTAKES = ("NameError", "ImportError", "ModuleNotFoundError", "SyntaxError", "IndentationError")
# pytest's long traceback ends each frame's block with `path:line: ExceptionType`.
# `calc.ops.multiply(...)` on a module without it: the same mistake as `from calc.ops import multiply`.
_MODULE_ATTRIBUTE = re.compile(r"^E\s+AttributeError: module '[\w.]+' has no attribute", re.MULTILINE)
_RAISED_AT = re.compile(r"^(?P<file>[^\s:][^:\n]*\.py):\d+: (?P<exc>[A-Za-z_][\w.]*)\s*$", re.MULTILINE)


@dataclass
class ReproCheck:
    """The runner's verdict on one reproduction: accepted or not, why, and the evidence."""

    accepted: bool
    reason: str
    tests: list[str] = field(default_factory=list)  # the new tests' node ids
    files: list[str] = field(default_factory=list)  # the test files written
    output: str = ""  # the new tests' failure output at base (or pytest's output when rejected)
    failures: dict[str, str] = field(default_factory=dict)  # node id -> its failure text, when accepted
    source: str = ""  # the new tests' code, as written (for the summary and the PR), when accepted
    test_broken: bool = False  # rejected because the test itself is broken (does not load, its own mistake)


def is_test_path(rel: str) -> bool:
    """A file a reproduction may write: a Python test file, never a conftest.py (it judges every test)."""
    rel = rel.replace("\\", "/").lstrip("./")
    return bool(_TEST_PATH.search(rel)) and not rel.endswith("conftest.py")


def _test_nodes(source: str | None) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Test functions by qualified name (``test_x``, ``TestC::test_x``) -> their ``ast`` node."""
    if not source:
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test"):
                    found[f"{node.name}::{item.name}"] = item
    return found


def _functions(source: str | None) -> dict[str, str]:
    """Test functions by qualified name -> their ``ast.dump`` (what comparing them needs)."""
    return {name: ast.dump(node) for name, node in _test_nodes(source).items()}


def _code_of(source: str, names: Iterable[str]) -> str:
    """The source lines of the named test functions (decorators included), in file order."""
    lines = source.splitlines()
    wanted = set(names)
    spans = sorted(
        (min([n.lineno, *(d.lineno for d in n.decorator_list)]), n.end_lineno or n.lineno)
        for name, n in _test_nodes(source).items()
        if name in wanted
    )
    return "\n\n".join("\n".join(lines[a - 1 : b]) for a, b in spans)


def _qualname(nodeid: str) -> tuple[str, str]:
    """``tests/t.py::TestC::test_x[1]`` -> (``tests/t.py``, ``TestC::test_x``)."""
    path, _, rest = nodeid.partition("::")
    return path, re.sub(r"\[.*\]$", "", rest, flags=re.DOTALL)


def _mistake(result: CaseResult, test_files: Iterable[str]) -> str | None:
    """The exception type when the test broke itself (raised in a test file), else None."""
    raised = list(_RAISED_AT.finditer(result.text))
    if not raised:
        return None
    last = raised[-1]
    exc = last.group("exc").rsplit(".", 1)[-1]
    where = last.group("file").replace("\\", "/")
    if not any(where == f or where.endswith("/" + f) for f in test_files):
        return None  # raised inside the code under test: the failure
    if exc in TEST_MISTAKES:
        return f"{exc} at {where}"
    if exc == "AttributeError" and _MODULE_ATTRIBUTE.search(result.text):  # an import by another name
        return f"AttributeError at {where} (a module attribute that does not exist)"
    return None


def _reject(
    reason: str, output: str = "", files: list[str] | None = None, *, test_broken: bool = False
) -> ReproCheck:
    return ReproCheck(False, reason, files=files or [], output=output, test_broken=test_broken)


def check_reproduction(
    root: Path,
    changes: Iterable,  # items with .path and .status (A, M, D), as Workspace.changes() gives
    read_base: Callable[[str], str | None],
    cfg: ValidateConfig,
) -> ReproCheck:
    """Run the written tests on the unchanged code and judge them (see the module docstring)."""
    changes = list(changes)
    files = [c.path for c in changes]
    if not files:
        return _reject("no test was written")
    deleted = [c.path for c in changes if c.status == "D"]
    if deleted:
        return _reject(f"files were deleted: {', '.join(deleted)}", files=files)
    others = [f for f in files if not is_test_path(f)]
    if others:
        return _reject(f"only test files may change, but these did: {', '.join(others)}", files=files)
    test_files = [f for f in files if f.endswith(".py")]
    new: dict[str, set[str]] = {}
    sources: dict[str, str] = {}  # as written and judged (the test run could rewrite an unsandboxed tree)
    for rel in test_files:
        source = sources[rel] = (root / rel).read_text(encoding="utf-8", errors="replace")
        try:
            ast.parse(source, filename=rel)
        except SyntaxError as exc:  # pytest would only say "collection error"; the model needs the line
            text = "".join(traceback.format_exception_only(exc))
            why = f"the test file does not load: {type(exc).__name__} in {rel} line {exc.lineno}: {exc.msg}"
            return _reject(why, text, files, test_broken=True)
        before = _functions(read_base(rel))
        after = _functions(source)
        touched = sorted(name for name in before if after.get(name) != before[name])
        if touched:
            why = f"existing tests were changed or removed in {rel}: {', '.join(touched)}"
            return _reject(why, files=files)
        new[rel] = set(after) - set(before)
    if not any(new.values()):
        return _reject("no new test function (def test_...) was added", files=files)
    tr = run_pytest(root, cfg, test_files)
    run, results = tr.run, tr.results or {}
    broken = [r for nid, r in results.items() if nid in test_files and r.outcome == "error"]
    if broken:
        text = "\n\n".join(r.text or r.message for r in broken)
        why = f"the test file does not load: {broken[0].message or 'collection error'}"
        return _reject(why, text, files, test_broken=True)
    mine = {nid: r for nid, r in results.items() if _qualname(nid)[1] in new.get(_qualname(nid)[0], set())}
    if not mine:
        return _reject("pytest did not collect the new tests", run.output if run else "", files)
    for outcome, words in (("passed", "passes"), ("skipped", "is skipped"), ("error", "errors in set-up")):
        hit = sorted(nid for nid, r in mine.items() if r.outcome == outcome)
        if hit:
            text = "\n\n".join(mine[n].text or mine[n].message for n in hit) or run.output
            return _reject(f"{hit[0]} {words} on the unchanged code; it must fail there", text, files)
    for nid, result in sorted(mine.items()):
        mistake = _mistake(result, test_files)
        if mistake:
            why = f"{nid} fails with {mistake}: a mistake in the test, not the issue's failure"
            return _reject(why, result.text, files, test_broken=True)
    failures = {nid: mine[nid].text or mine[nid].message for nid in sorted(mine)}
    output = "\n\n".join(f"{nid}\n{text}" for nid, text in failures.items())
    code = "\n\n".join(f"# {rel}\n{_code_of(sources[rel], new[rel])}" for rel in test_files if new.get(rel))
    why = f"{len(mine)} new test(s) fail at base"
    return ReproCheck(True, why, sorted(mine), files, output, failures, code)
