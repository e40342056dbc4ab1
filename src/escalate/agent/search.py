"""``search_repo``: find a literal string or an RE2 regular expression in the repository's text files.

The pattern comes from the model, which issue text can steer, so the search must not be a way to
stall a run: patterns are compiled with RE2 (google-re2), whose matching time is linear in the
text searched for every pattern (no backtracking, so ``(a+)+$`` costs what ``a`` costs), and the
work is bounded by size: files over ``MAX_FILE_BYTES`` are skipped, scanning stops after
``MAX_SCAN_BYTES`` in all, and counting stops after ``MAX_COUNTED`` matching lines. RE2 has no
lookaround and no backreferences; such a pattern is answered with an error that says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

MAX_SEARCH_HITS = 50
MAX_PATTERN_CHARS = 1000
MAX_FILE_BYTES = 1_000_000
MAX_SCAN_BYTES = 64_000_000
MAX_COUNTED = 10_000
MAX_HIT_CHARS = 200


SEARCH_TOOL = {
    "name": "search_repo",
    "description": (
        "Search the repository's text files for a literal string (default) or a regular expression in "
        "RE2 syntax (like Python's, without lookaround or backreferences). Returns `path:line: text` hits, "
        f"at most {MAX_SEARCH_HITS}. Read-only."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Text or regex to find."},
            "regex": {"type": "boolean", "description": "Treat pattern as a regex (default false)."},
            "ignore_case": {"type": "boolean", "description": "Case-insensitive (default false)."},
            "path": {"type": "string", "description": "Directory or file to search (default: root)."},
            "glob": {"type": "string", "description": "Only files matching this glob, e.g. **/*.py"},
        },
        "required": ["pattern"],
    },
}


class SearchError(ValueError):
    """The pattern cannot be used; the message is meant for the model."""


@dataclass
class SearchResult:
    hits: list[str]
    total: int  # matching lines counted (capped at MAX_COUNTED)
    capped: bool  # counting stopped at MAX_COUNTED
    unscanned: int  # files left unread because the scan budget ran out


def compile_pattern(pattern: str, *, regex: bool, ignore_case: bool):
    """An RE2 program for pattern, matching bytes line by line (``^``/``$`` at line ends)."""
    import re2

    if len(pattern) > MAX_PATTERN_CHARS:
        raise SearchError(
            f"The pattern is {len(pattern)} characters; at most {MAX_PATTERN_CHARS} are allowed."
        )
    options = re2.Options()
    options.log_errors = False  # RE2 would print every bad pattern to stderr
    options.case_sensitive = not ignore_case
    source = pattern if regex else re2.escape(pattern)
    try:
        return re2.compile(("(?m)" + source).encode("utf-8"), options)
    except UnicodeEncodeError:
        raise SearchError("The pattern holds a lone surrogate; send valid Unicode text.") from None
    except re2.error as exc:
        reason = (
            exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        )
        raise SearchError(
            f"Invalid regular expression {pattern!r}: {reason}. Patterns use RE2 syntax (like Python's, "
            "without lookaround or backreferences); set regex=false to search literally."
        ) from None


def compile_glob(source: str) -> Callable[[str], bool]:
    """A matcher for a glob's regular expression (``editor.glob_source``) that must match a whole
    path, in RE2: a glob like ``*a*a*a*a*a*a*a*a*a*a*a*a*c`` against a long name of a's would keep
    Python's re busy for hours."""
    import re2

    if len(source) > 8 * MAX_PATTERN_CHARS:
        raise SearchError(f"the glob is too long; at most {MAX_PATTERN_CHARS} characters are allowed.")
    options = re2.Options()
    options.log_errors = False
    try:
        program = re2.compile(source, options)
    except re2.error as exc:
        raise SearchError(f"the glob cannot be used ({exc}).") from None
    return lambda path: program.fullmatch(path) is not None


def search(root: Path, files: Iterable[str], program) -> SearchResult:
    """Matching lines of files (relative to root) as ``path:line: text``; see the module docstring."""
    result = SearchResult([], 0, False, 0)
    scanned = 0
    for rel in files:
        if result.capped:
            break
        path = root / rel
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            if scanned >= MAX_SCAN_BYTES:
                result.unscanned += 1
                continue
            data = path.read_bytes()
        except (OSError, ValueError):
            continue
        scanned += len(data)
        if b"\0" in data[:8192]:
            continue
        _search_file(rel, data, program, result)
    return result


def _search_file(rel: str, data: bytes, program, result: SearchResult) -> None:
    pos, line, counted_to = 0, 1, 0
    while pos < len(data):
        match = program.search(data, pos)
        if match is None:
            return
        start = match.start()
        line += data.count(b"\n", counted_to, start)
        line_start = data.rfind(b"\n", 0, start) + 1
        line_end = data.find(b"\n", start)
        line_end = len(data) if line_end < 0 else line_end
        result.total += 1
        if len(result.hits) < MAX_SEARCH_HITS:
            text = data[line_start:line_end].decode("utf-8", "replace").strip()
            more = " [...]" if len(text) > MAX_HIT_CHARS else ""
            result.hits.append(f"{rel}:{line}: {text[:MAX_HIT_CHARS]}{more}")
        if result.total >= MAX_COUNTED:
            result.capped = True
            return
        counted_to, pos = start, line_end + 1  # one hit per line: go on from the next line


def describe(pattern: str, result: SearchResult) -> str:
    """The tool's answer for a search result."""
    lines = list(result.hits)
    notes = []
    if result.capped:
        notes.append(f"counting stopped at {MAX_COUNTED} matching lines")
    elif result.total > len(result.hits):
        notes.append(f"{result.total - len(result.hits)} more matches not shown")
    if result.unscanned:
        notes.append(
            f"{result.unscanned} files not searched (the search reads at most {MAX_SCAN_BYTES:,} bytes)"
        )
    if not lines:
        head = f"No matches for {pattern!r}."
        return head + (f" [{'; '.join(notes)}.]" if notes else "")
    if notes:
        lines.append(f"[... {'; '.join(notes)}; narrow the pattern, path or glob.]")
    return "\n".join(lines)
