"""pytest's JUnit XML, read back into pytest node ids and outcomes.

pytest writes ``classname="tests.test_x.TestC"`` and ``name="test_y[1]"``; with
``junit_family=xunit1`` (which validation always asks for) it also writes the test
file, which makes the way back to ``tests/test_x.py::TestC::test_y[1]`` exact. Without
the file attribute the dotted classname is matched against files on disk.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from escalate.task import norm_nodeid

__all__ = ["CaseResult", "IncompleteReport", "covers", "norm_nodeid", "parse_junit", "selects", "strip_ansi"]

# Worse outcomes win when a test reports twice (a failure in the call, an error in teardown).
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
# CSI and OSC escape sequences: a project's `--color=yes` must not reach the model or the reports.
# In JUnit XML pytest writes the ESC character (not legal XML) as the text "#x1B".
_ANSI = re.compile(r"(?:\x1b|#x1B)(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\|#x1B\\|#x07))")


class IncompleteReport(ValueError):
    """The report holds a testcase with no name: pytest stopped while writing it."""


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass
class CaseResult:
    """One test's outcome: "passed", "failed", "error" (incl. collection errors) or "skipped"."""

    nodeid: str
    outcome: str
    message: str = ""
    text: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "error")


def nodeid_of(classname: str, name: str, file: str | None, root: Path | None = None) -> str:
    """The pytest node id for one JUnit testcase."""
    if not classname:
        # A collection error: name is the module's dotted path, file its real path.
        if file:
            return file.replace("\\", "/")
        classname, name = name, ""
    if file:
        file = file.replace("\\", "/")
        dotted = file.removesuffix(".py").replace("/", ".")
        if classname == dotted:
            return "::".join(p for p in (file, name) if p)
        if classname.startswith(dotted + "."):
            classes = classname[len(dotted) + 1 :].split(".")
            return "::".join([file, *classes, *([name] if name else [])])
    parts = classname.split(".")
    if root is not None:
        for cut in range(len(parts), 0, -1):
            candidate = "/".join(parts[:cut]) + ".py"
            if (root / candidate).is_file():
                return "::".join([candidate, *parts[cut:], *([name] if name else [])])
    return "::".join([".".join(parts), *([name] if name else [])])


def parse_junit(xml_text: str, root: Path | None = None) -> dict[str, CaseResult]:
    """Node id -> result for every testcase in a pytest JUnit XML report."""
    results: dict[str, CaseResult] = {}
    tree = ET.fromstring(xml_text)
    for case in tree.iter("testcase"):
        if not case.get("name") and not case.get("classname"):
            raise IncompleteReport("the JUnit report holds a testcase without a name (an aborted run)")
        nodeid = nodeid_of(case.get("classname", ""), case.get("name", ""), case.get("file"), root)
        outcome, message, text = "passed", "", ""
        for tag in ("error", "failure", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message, text = strip_ansi(node.get("message", "")), strip_ansi(node.text or "")
                break
        result = CaseResult(nodeid, outcome, message, text)
        previous = results.get(nodeid)
        if previous is None or _RANK[outcome] > _RANK[previous.outcome]:
            if previous is not None and previous.text:
                result.text = previous.text + "\n\n" + result.text
            results[nodeid] = result
        elif result.text:
            previous.text += "\n\n" + result.text
    return results


def selects(target: str, nodeid: str) -> bool:
    """True when a target given on the command line selects nodeid: the id itself, a file, a
    directory, a class, or a function (every parametrized case of it)."""
    return nodeid == target or nodeid.startswith((target + "::", target + "[", target.rstrip("/") + "/"))


def covers(target: str, nodeid: str, outcome: str) -> bool:
    """True when nodeid's result speaks for target: selected by it, or a collection error of the
    module (or directory) the target lives in."""
    return selects(target, nodeid) or (outcome == "error" and "::" not in nodeid and selects(nodeid, target))
