"""What to fix: failing tests, issue text or lint findings.

Issue text comes from anyone who can open an issue, so only what a reader of the rendered
issue sees reaches a model: bodies and comments go through ``escalate.untrusted``
(``visible_markdown``, each part on its own, as GitHub renders each on its own), titles
through ``visible_plain``. An issue file is read only up to ``untrusted.MAX_CHARS``.

``traceback_frames`` turns pytest (or plain Python) traceback output into the frames
that lie inside the repository, for the model's first message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from escalate.errors import EscalateError
from escalate.untrusted import MAX_CHARS, strip_ansi, visible_markdown, visible_plain

KINDS = ("test", "issue", "lint", "warning")
MAX_SLUG = 40


class TaskError(EscalateError):
    """A task source cannot be read or holds nothing to do."""


def _slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-") or "task"


def _hash6(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:6]


def stable_slug(kind: str, name: str, identity: str) -> str:
    """A stable, readable id for a task: the same finding (or issue) on another night gets the same slug.

    Lowercase ``[a-z0-9-]`` and at most 49 characters, so it is both a legal batch
    ``custom_id`` (``^[a-zA-Z0-9_-]{1,64}$``) and, behind ``batch-``, a branch name that
    ``safe_slug`` (60 characters) keeps whole.
    """
    readable = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30].strip("-") or "x"
    digest = hashlib.sha256(f"{kind}\0{identity}".encode()).hexdigest()[:10]
    return f"{kind}-{readable}-{digest}"


class IssueComment(Protocol):
    """A comment on an issue, as a task source reads it (``github.client.IssueComment``)."""

    @property
    def author(self) -> str: ...
    @property
    def association(self) -> str: ...  # GitHub's author_association: OWNER, MEMBER, ...
    @property
    def body(self) -> str: ...


class Issue(Protocol):
    """An issue, as a task source reads it (``github.client.IssueInfo``): its comments are the
    ones the caller trusts (``github.trusted_associations``)."""

    @property
    def number(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def labels(self) -> Sequence[str]: ...
    @property
    def comments(self) -> Sequence[IssueComment]: ...


_NAMED_TEST = re.compile(r"(?<![\w/.-])([\w./-]+\.py::[^\s`'\"<>]+)")


def named_tests(text: str) -> list[str]:
    """pytest node ids written in an issue (``tests/test_x.py::test_y``), in order, once each."""
    found = (m.group(1).rstrip(".,;:)!?") for m in _NAMED_TEST.finditer(text))
    return list(dict.fromkeys(n for n in found if n))


@dataclass
class Task:
    """One unit of work for the runner. ``slug`` is deterministic; the workspace adds -2, -3 on clashes."""

    kind: str
    title: str
    text: str
    target_tests: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    source: str = "cli"
    slug: str = ""
    issue: int | None = None  # the GitHub issue number, for a task made from one

    @property
    def heading(self) -> str:
        """The title as a list of tasks shows it: ``#12: <title>`` for a GitHub issue."""
        return f"#{self.issue}: {self.title}" if self.issue is not None else self.title

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TaskError(f"unknown task kind {self.kind!r}; use one of {', '.join(KINDS)}.")
        if not self.slug:
            self.slug = f"{self.kind}-{_hash6(self.title, self.text)}"

    @classmethod
    def from_tests(cls, node_ids: Iterable[str], source: str = "cli") -> Task:
        """A task to make failing tests pass: ``tests/test_ops.py::test_add`` -> slug ``fix-test-add``."""
        ids = [norm_nodeid(n) for n in node_ids if n and n.strip()]
        if not ids:
            raise TaskError("no test ids given; pass pytest node ids such as tests/test_calc.py::test_add.")
        first = ids[0].split("[", 1)[0]
        name = first.rsplit("::", 1)[-1] if "::" in first else Path(first).stem
        more = f"-and-{len(ids) - 1}-more" if len(ids) > 1 else ""
        slug = _slugify(f"fix-{name}")[: MAX_SLUG - len(more)].rstrip("-") + more
        title = f"Make {ids[0]} pass" if len(ids) == 1 else f"Make {len(ids)} failing tests pass"
        text = "These tests fail and should pass:\n" + "\n".join(f"- {n}" for n in ids)
        return cls("test", title, text, target_tests=ids, source=source, slug=slug)

    @classmethod
    def from_issue_text(
        cls, text: str, title: str | None = None, labels: Iterable[str] = (), source: str = "cli"
    ) -> Task:
        """A task from an issue's Markdown (only what renders is kept); the title defaults to its
        first line."""
        return cls._from_visible(visible_markdown(text), title, labels, source)

    @classmethod
    def _from_visible(cls, clean: str, title: str | None, labels: Iterable[str], source: str) -> Task:
        if title is None:
            first = next((ln for ln in clean.splitlines() if ln.strip()), "")
            title = first.lstrip("#").strip()[:120]
        else:
            title = " ".join(visible_plain(title).split())
        if not clean.strip() and not title:
            raise TaskError("the issue has no visible text; there is nothing to fix.")
        number = re.fullmatch(r"github#(\d+)", source)
        slug = (
            f"issue-{number.group(1)}-{_hash6(title, clean)}" if number else f"issue-{_hash6(title, clean)}"
        )
        return cls("issue", title or "Untitled issue", clean, labels=list(labels), source=source, slug=slug)

    @classmethod
    def from_issue(cls, issue: Issue) -> Task:
        """The task for a GitHub issue, the one way both ``escalate fix --issue N`` and the nightly
        job make it: title, body and the (trusted) comments, each reduced to what renders on its
        own; nothing in them can reach config, tools or allowed paths (they only ever become prompt
        text). The slug depends on the number and title only, so a new comment does not make a new
        task in the nightly queue."""
        parts = [visible_markdown(issue.body).strip()]
        for c in issue.comments:
            body = visible_markdown(c.body).strip()
            if body:
                parts.append(f"Comment by {c.author} ({c.association}):\n{body}")
        text = "\n\n".join(p for p in parts if p) or visible_plain(issue.title).strip()
        source = f"github#{issue.number}"
        task = cls._from_visible(text + "\n" if text else "", issue.title, issue.labels, source)
        task.issue = issue.number
        task.slug = stable_slug("issue", f"{issue.number}-{issue.title}", str(issue.number))
        return task

    @classmethod
    def from_issue_file(cls, path: Path) -> Task:
        """A task from a Markdown/text file: optional YAML front matter (title, labels), else ``# Title``."""
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > 4 * MAX_CHARS:  # UTF-8: at most 4 bytes a character; the exact check follows
                raise TaskError(
                    f"the issue file {path} is {size:,} bytes; at most {MAX_CHARS:,} characters are read. "
                    "Shorten it: keep the error and the relevant part of any log."
                )
            raw = path.read_text(encoding="utf-8")
            if len(raw) > MAX_CHARS:
                raise TaskError(
                    f"the issue file {path} is {len(raw):,} characters; at most {MAX_CHARS:,} are read. "
                    "Shorten it: keep the error and the relevant part of any log."
                )
        except (OSError, UnicodeDecodeError) as exc:
            raise TaskError(
                f"cannot read issue file {path}: {exc}; pass a UTF-8 text or Markdown file."
            ) from exc
        meta: dict = {}
        match = re.match(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", raw, re.DOTALL)
        if match:
            try:
                meta = yaml.safe_load(match.group(1)) or {}
            except yaml.YAMLError as exc:
                raise TaskError(f"{path}: the front matter is not valid YAML: {exc}") from exc
            if not isinstance(meta, dict):
                raise TaskError(f"{path}: the front matter must be a mapping with title/labels keys.")
            raw = raw[match.end() :]
        title = meta.get("title")
        labels = meta.get("labels") or []
        if isinstance(labels, str):
            labels = [labels]
        return cls.from_issue_text(
            raw, None if title is None else str(title), [str(x) for x in labels], str(path)
        )

    @classmethod
    def from_cli(cls, tests: Iterable[str], issue_file: str | Path | None, issue_text: str | None) -> Task:
        """The task the command-line flags name: an issue (file or text) that must also make
        ``tests`` pass, else the failing tests alone."""
        if issue_file is not None:
            task = cls.from_issue_file(Path(issue_file))
        elif issue_text is not None:
            task = cls.from_issue_text(issue_text)
        else:
            return cls.from_tests(tests)
        task.target_tests = list(tests)  # --test with an issue: those tests must pass too
        return task

    @classmethod
    def from_findings(cls, findings: Iterable[str], kind: str = "lint", source: str = "cli") -> Task:
        """A maintenance task from lint findings or warnings, one ``path:line: message`` per item."""
        items = [f.strip() for f in findings if f and f.strip()]
        if not items:
            raise TaskError(f"no {kind} findings given; there is nothing to fix.")
        title = f"Fix {len(items)} {kind} finding{'s' if len(items) > 1 else ''}"
        text = f"Fix these {kind} findings without changing behaviour:\n" + "\n".join(f"- {i}" for i in items)
        return cls(kind, title, text, source=source, slug=f"{kind}-{_hash6(*items)}")

    @classmethod
    def from_ci_failure(cls, sha: str, branch: str | None, run_url: str | None, run_id: object) -> Task:
        """A failed CI run (the Action's ``workflow_run`` event): find the failing tests and fix them."""
        where = f" ({run_url})" if run_url else ""
        return cls(
            kind="test",
            title=f"CI failure on {branch} at {sha[:7]}",
            text=f"The CI run{where} failed on {branch} at {sha}. Find the failing tests "
            "and fix the code under test.",
            source=f"github-run#{run_id}",
            slug=f"ci-{sha[:12]}",
        )

    # The nightly scan's findings (batch/discovery.py). Slugs depend only on what identifies the
    # finding, so the same finding on another night is the same task in the queue.

    @classmethod
    def from_failing_file(cls, path: str, node_ids: list[str], output: str) -> Task:
        """The tests failing in one file on the default branch, with (some of) their output."""
        return cls(
            kind="test",
            title=f"{len(node_ids)} failing test(s) in {path}",
            text=f"These tests fail on the default branch:\n\n{output}",
            target_tests=node_ids,
            source="nightly",
            slug=stable_slug("test", path, path),
        )

    @classmethod
    def from_warning(cls, path: str, line: int, category: str, message: str, raised_by: list[str]) -> Task:
        """A warning the suite raises at ``path:line``; ``raised_by`` are the tests that raise it."""
        # The line is left out of the identity: unrelated edits above it must not make a new task.
        tests = ", ".join(raised_by[:5]) or "test collection"
        return cls(
            kind="warning",
            title=f"{category} at {path}:{line}",
            text=(
                f"{path}:{line}: {category}: {message}\n"
                f"Raised while running: {tests}.\n"
                "Change the code at that location so the warning is no longer raised, keeping behaviour."
            ),
            target_tests=raised_by[:20],
            source="nightly",
            slug=stable_slug("warning", path, f"{path}\0{category}\0{message}"),
        )

    @classmethod
    def from_nightly_fixes(cls, fixes: list[tuple[str, str | None]], target_tests: list[str]) -> Task:
        """Tonight's fixes as one change (``batch.combined_pr``): ``(title, branch)`` each."""
        return cls(
            kind="issue",
            title=f"{len(fixes)} nightly maintenance fix(es)",
            text="\n".join(f"- {title} ({branch})" for title, branch in fixes),
            target_tests=target_tests,
            source="nightly",
            slug="nightly-combined",
        )

    @classmethod
    def from_lint_report(cls, path: str, codes: list[str], listing: str) -> Task:
        """ruff findings in one file that ``ruff check --fix`` cannot fix (``listing``: one a line)."""
        return cls(
            kind="lint",
            title=f"ruff {', '.join(codes)} in {path}",
            text=f"ruff reports findings that `ruff check --fix` cannot fix:\n{listing}",
            labels=["lint"],
            source="nightly",
            slug=stable_slug("lint", path, f"{path}\0{','.join(codes)}"),
        )


# -- tracebacks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One traceback frame inside the repository: path relative to the root, line, function."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


# A traceback frame as callers hold it: a ``Frame``, a path, or a (path, line) pair.
FrameLike = Frame | str | Path | tuple[str, int]


_LOCATION = re.compile(r"^(?P<file>[^\s:<>][^:<>\n]*?\.py):(?P<line>\d+): ?(?:in (?P<func>[\w<>.]+)\s*$|.*$)")
_NATIVE = re.compile(r'^\s*File "(?P<file>[^"]+\.py)", line (?P<line>\d+), in (?P<func>[\w<>.]+)')
_DEF = re.compile(r"^>?\s*(?:async\s+)?def\s+(\w+)\s*\(")
_SEPARATOR = re.compile(r"^(?:_ ){5,}_?\s*$|^_{3,} .* _{3,}$")


def _inside(file: str, root: Path) -> str | None:
    path = Path(file)
    full = path if path.is_absolute() else root / path
    try:
        rel = full.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return rel.as_posix() if (root / rel).is_file() else None


def traceback_frames(output: str, root: Path) -> list[Frame]:
    """Repository frames (file, line, function) from pytest or Python tracebacks; in order, no repeats."""
    root = Path(root)
    frames: list[Frame] = []
    seen: set[Frame] = set()
    entry_def: str | None = None  # pytest long format shows the function source, not its name
    for line in strip_ansi(output).splitlines():
        if _SEPARATOR.match(line):
            entry_def = None
            continue
        found = _DEF.match(line)
        if found and entry_def is None:
            entry_def = found.group(1)
            continue
        match = _NATIVE.match(line) or _LOCATION.match(line)
        if match is None:
            continue
        func = match.group("func") or entry_def or "<unknown>"
        entry_def = None
        rel = _inside(match.group("file"), root)
        if rel is None:
            continue
        frame = Frame(rel, int(match.group("line")), func)
        if frame not in seen:
            seen.add(frame)
            frames.append(frame)
    return frames


def norm_nodeid(nodeid: str) -> str:
    """A node id as pytest prints it: the path part with forward slashes and no leading ./; the
    rest (class, function, parameters) exactly as given, backslashes and all (``[C:\\\\foo;x]``)."""
    nodeid = nodeid.strip()
    path, sep, rest = nodeid.partition("::")
    path = path.replace("\\", "/")
    path = path[2:] if path.startswith("./") else path
    return path + sep + rest
