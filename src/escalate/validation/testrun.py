"""One pytest run on the tree under test, read back as node ids and outcomes.

What a run must be before anyone takes it as the truth: complete (a JUnit report whose
every testcase has a name, no ``INTERNALERROR``, not exit 2/3/4: interrupted, internal
error, usage error), colour-free (``--color=no`` after the project's addopts, and escape
codes stripped from whatever still carries them), and, when it hangs, named: ``-v``
makes pytest print each node id as the test starts, so the last id without a result word
is the test that was running when the timeout killed the run.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.validation.junit import CaseResult, IncompleteReport, parse_junit, strip_ansi
from escalate.workspace.process import CommandResult, run_command
from escalate.workspace.sandbox import isolation_for

if TYPE_CHECKING:
    from escalate.config import ValidateConfig

__all__ = ["TestRun", "run_pytest", "import_env"]

_NOT_FOUND = re.compile(r"^ERROR: (?:file or directory )?not found: (\S+)", re.MULTILINE)
_STARTED = re.compile(r"^(\S+::\S.*?) ?(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)?(?: +\[ *\d+%\])?$")
# pytest's closing line when tests failed: "==== 1 failed, 2 passed in 0.1s ====".
_SUMMARY_FAILED = re.compile(r"^=*\s*(?:\d+ \w+, )*\d+ (?:failed|errors?)\b")
# pytest's own exit codes for a run that did not finish: interrupted, internal error, usage error.
_ABORTED = {2: "interrupted", 3: "an internal error", 4: "a usage error"}


@dataclass
class TestRun:
    """A pytest run: the process, its results (None without a readable report) and JUnit XML."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    run: CommandResult
    results: dict[str, CaseResult] | None
    junit: str | None
    aborted: str = ""  # why the run is not to be trusted ("" when it is complete)
    hung: str | None = None  # the node id that was running when the timeout hit
    missing: tuple[str, ...] = ()  # selected ids pytest could not find
    tries: int = 1

    @property
    def timed_out(self) -> bool:
        return self.run.timed_out

    @property
    def complete(self) -> bool:
        return not self.timed_out and not self.aborted and self.results is not None

    def describe(self) -> str:
        notes = [f"tries: {self.tries}"] if self.tries > 1 else []
        if self.aborted:
            notes.append(f"aborted: {self.aborted}")
        if self.hung:
            notes.append(f"hanging test: {self.hung}")
        return "".join(n + "\n" for n in notes) + self.run.describe()


def import_env(root: Path) -> dict[str, str]:
    """The environment with the tree under test (and its src/) first on PYTHONPATH.

    An editable install of the project points at the user's checkout; without this the
    tests would import the unpatched code from there instead of the tree's.
    """
    env = dict(os.environ)
    paths = [str(root / "src")] if (root / "src").is_dir() else []
    paths.append(str(root))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_pytest(
    root: Path,
    cfg: ValidateConfig,
    selection: list[str],
    *,
    deselect: list[str] | tuple[str, ...] = (),
    extra: list[str] | tuple[str, ...] = (),
    retry_aborted: bool = True,
    on_start: Callable[[Callable[[], None]], None] | None = None,
) -> TestRun:
    """Run the test command on selection (empty: everything); an aborted run is tried once more.
    ``on_start`` gets a function that kills the run under way (``run_command``)."""
    first = _run_once(root, cfg, selection, deselect, extra, on_start)
    if not first.aborted or first.missing or not retry_aborted:
        return first
    second = _run_once(root, cfg, selection, deselect, extra, on_start)
    second.tries = 2
    return second


def _run_once(root: Path, cfg: ValidateConfig, selection, deselect, extra, on_start=None) -> TestRun:
    # The report's own folder is the one host path a sandboxed run may write besides its tree;
    # a missing file afterwards means pytest never got to write one.
    report_dir = Path(tempfile.mkdtemp(prefix="escalate-junit-"))
    xml_path = report_dir / "junit.xml"
    argv = [
        *cfg.test_command,
        "-p",
        "no:cacheprovider",
        "-v",  # each node id is printed as its test starts: a hang can be named
        "--color=no",  # after the project's addopts, so it wins over their --color=yes
        f"--junitxml={xml_path}",
        "-o",
        "junit_family=xunit1",  # adds the file attribute: exact node ids
        f"--rootdir={root}",
        "--continue-on-collection-errors",
        *extra,
        *(f"--deselect={d}" for d in deselect),
        *selection,
    ]
    try:
        run = run_command(
            argv, root, timeout_s=cfg.timeout_s, env=import_env(root), isolation=isolation_for(cfg),
            writable=[report_dir], on_start=on_start,
        )  # fmt: skip
        xml = xml_path.read_text(errors="replace") if xml_path.is_file() else None
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
    run.stdout, run.stderr = strip_ansi(run.stdout), strip_ansi(run.stderr)
    xml = strip_ansi(xml) if xml else xml
    results, aborted = None, ""
    if xml:
        try:
            results = parse_junit(xml, root)
        except ET.ParseError:  # a truncated report is treated like no report; a bug still shows
            xml = None
        except IncompleteReport as exc:
            aborted = str(exc)
    missing = tuple(_not_found(run, root))
    # Exit 4 with "found no collectors" is a target whose module failed to import: the report
    # holds that collection error, which is the answer, not an aborted run.
    collection_error = bool(results) and any(
        r.outcome == "error" and "::" not in n for n, r in results.items()
    )
    no_collectors = run.returncode == 4 and "found no collectors for" in run.output and collection_error
    if not run.timed_out and not missing and not no_collectors:
        if run.returncode in _ABORTED:
            aborted = (
                aborted or f"pytest stopped with exit code {run.returncode} ({_ABORTED[run.returncode]})"
            )
        elif "INTERNALERROR>" in run.output:
            aborted = aborted or "pytest reported an INTERNALERROR"
        elif results is not None:
            aborted = aborted or _report_disagrees(run, results)
    hung = _running_when_killed(run.stdout) if run.timed_out else None
    return TestRun(run, results, xml, aborted, hung, missing)


def _report_disagrees(run: CommandResult, results: dict[str, CaseResult]) -> str:
    """Why a report that shows no failure is not believed ("" when it is): pytest's exit code or its
    closing summary line says tests failed. The code under test runs in pytest's process and could
    rewrite the report (an ``atexit`` hook); these are two more witnesses."""
    if any(r.failed for r in results.values()):
        return ""
    lines = run.stdout.strip().splitlines()
    said = _SUMMARY_FAILED.search(lines[-1]) if lines else None
    if run.returncode != 1 and not said:
        return ""
    witness = (
        "pytest exited with 1 (tests failed)"
        if run.returncode == 1
        else f"pytest said {lines[-1].strip('= ')!r}"
    )
    return f"the report shows no failure but {witness}: the report is not trusted"


def _not_found(run: CommandResult, root: Path) -> list[str]:
    found = []
    for raw in _NOT_FOUND.findall(run.output):
        for prefix in (str(root.resolve()) + "/", str(root) + "/"):
            raw = raw.removeprefix(prefix)
        found.append(raw)
    return found


def _running_when_killed(stdout: str) -> str | None:
    """The last node id pytest -v announced without a result word after it."""
    for line in reversed(stdout.splitlines()):
        match = _STARTED.match(line.strip())
        if match:
            return match.group(1) if not match.group(2) else None
    return None
