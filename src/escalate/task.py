"""What to fix: failing tests, issue text or lint findings, plus the untrusted-text rules.

Issue text comes from anyone who can open an issue, so it is cleaned before a model
sees it (``sanitize_untrusted``). The rule: **keep what a reader sees on GitHub, drop
what they cannot see**:

* HTML comments ``<!-- ... -->`` (an unterminated ``<!--`` hides the rest of the text,
  so the rest is dropped);
* invisible and bidirectional Unicode: format characters (category Cf: zero-width
  space/joiners, bidi embeddings/overrides/isolates, word joiner, BOM, soft hyphen,
  tag characters U+E0000-U+E007F), variation selectors, Hangul fillers;
* elements a browser does not show: ``<script>``, ``<style>``, ``<template>``, any
  element with a ``hidden`` attribute, ``aria-hidden="true"`` or an inline style with
  ``display:none``, ``visibility:hidden``, ``font-size:0`` or ``opacity:0``, content
  included (an unclosed one hides, and loses, the rest of the text);
* markdown link reference definitions that carry a title (``[x]: url "title"``,
  including the ``[//]: # (comment)`` idiom): they render as nothing;
* ANSI escape sequences and other control characters (from pasted CI logs).

``<details>`` blocks stay: their content is one click away for every reader. Runs of
blank lines collapse to one; trailing spaces go.

``traceback_frames`` turns pytest (or plain Python) traceback output into the frames
that lie inside the repository, for the model's first message.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from escalate.errors import EscalateError

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
        """A task from an issue's text (sanitized here); the title defaults to its first line."""
        clean = sanitize_untrusted(text)
        if title is None:
            first = next((ln for ln in clean.splitlines() if ln.strip()), "")
            title = first.lstrip("#").strip()[:120]
        else:
            title = " ".join(sanitize_untrusted(title).split())
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
        job make it: title, body and the (trusted) comments, sanitized; nothing in them can reach
        config, tools or allowed paths (they only ever become prompt text). The slug depends on the
        number and title only, so a new comment does not make a new task in the nightly queue."""
        parts = [issue.body.strip()]
        for c in issue.comments:
            if c.body.strip():
                parts.append(f"Comment by {c.author} ({c.association}):\n{c.body.strip()}")
        text = "\n\n".join(p for p in parts if p) or issue.title
        task = cls.from_issue_text(text, issue.title, issue.labels, source=f"github#{issue.number}")
        task.issue = issue.number
        task.slug = stable_slug("issue", f"{issue.number}-{issue.title}", str(issue.number))
        return task

    @classmethod
    def from_issue_file(cls, path: Path) -> Task:
        """A task from a Markdown/text file: optional YAML front matter (title, labels), else ``# Title``."""
        path = Path(path)
        try:
            raw = path.read_text(encoding="utf-8")
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


# -- untrusted text ------------------------------------------------------------------------

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_INVISIBLE_EXTRA = {0x115F, 0x1160, 0x3164, 0xFFA0, 0x180E, 0x034F}  # fillers and joiners not in Cf
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_OPEN_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)\b([^>]*)>", re.DOTALL)
_ALWAYS_HIDDEN = {"script", "style", "template"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_HIDDEN_ATTR = re.compile(
    r"""(?:^|\s)hidden(?:\s|=|/|$)|aria-hidden\s*=\s*["']?true"""
    r"""|style\s*=\s*["'][^"']*(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])"""
    r"""|opacity\s*:\s*0(?![.\d]*[1-9]))""",
    re.IGNORECASE,
)
_REF_DEF_TITLE = re.compile(
    r"""^ {0,3}\[[^\]\n]+\]:[ \t]*\S+(?:[ \t]+|[ \t]*\n[ \t]*)(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\))[ \t]*$""",
    re.MULTILINE,
)


def _is_invisible(ch: str) -> bool:
    code = ord(ch)
    if ch in "\n\t":
        return False
    if unicodedata.category(ch) in ("Cf", "Cc") or code in _INVISIBLE_EXTRA:
        return True
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF  # variation selectors


def _drop_hidden_elements(text: str) -> str:
    out, pos = [], 0
    while True:
        match = _OPEN_TAG.search(text, pos)
        if match is None:
            out.append(text[pos:])
            return "".join(out)
        name, attrs = match.group(1).lower(), match.group(2)
        if name not in _ALWAYS_HIDDEN and not _HIDDEN_ATTR.search(attrs):
            out.append(text[pos : match.end()])
            pos = match.end()
            continue
        out.append(text[pos : match.start()])
        if attrs.rstrip().endswith("/") or name in _VOID:
            pos = match.end()
            continue
        pos = _matching_close(text, name, match.end())


def _matching_close(text: str, name: str, start: int) -> int:
    """The index after the tag closing the element opened before start (nesting counted), or len(text)."""
    tags = re.compile(rf"<(/?){re.escape(name)}\b[^>]*?(/?)>", re.IGNORECASE)
    depth = 1
    for match in tags.finditer(text, start):
        if match.group(1):
            depth -= 1
        elif not match.group(2):
            depth += 1
        if depth == 0:
            return match.end()
    return len(text)


def sanitize_untrusted(text: str) -> str:
    """Untrusted text with everything a reader cannot see removed (see the module docstring)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI.sub("", text)
    text = "".join(ch for ch in text if not _is_invisible(ch))
    text = _COMMENT.sub("", text)
    text = _drop_hidden_elements(text)
    text = _REF_DEF_TITLE.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip("\n") + ("\n" if text.strip() else "")


# -- tracebacks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One traceback frame inside the repository: path relative to the root, line, function."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


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
    for line in _ANSI.sub("", output).splitlines():
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
