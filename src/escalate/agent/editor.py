"""Anthropic's text editor tool (``text_editor_20250728``), confined to one worktree.

The model edits files only through ``handle()``. Every path is checked before use:
``..`` escapes, absolute paths outside the root, symlinks whose target leaves the
tree and anything inside ``.git`` are refused for every command; protected paths
(config ``editor.protected_paths``, case-insensitive, and the ``[tool.escalate]`` table of
pyproject.toml) may be viewed but never edited or created, and neither may what a
``write_guard`` refuses (the runner's: the files that judge a patch).
Problems come back as ``ToolResult(is_error=True)`` for the model to read, never as
exceptions: a path is checked for what the filesystem cannot take (``agent.pathtext``: NUL,
lone surrogates, control characters, a name over 255 bytes, too many levels) before it is
used, only regular files are read or written and files are size-capped (``agent.textfile``: a
FIFO would block), and any ``OSError`` left is answered with its reason. Two read-only
helpers, ``search_repo`` and ``list_files``, save the model from viewing files one by one;
their patterns and globs run on RE2 (``agent.search``), so none can stall a run. There is no
shell tool.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from escalate.agent.pathtext import path_problem, shown
from escalate.agent.search import SEARCH_TOOL, SearchError, compile_glob, compile_pattern, describe, search
from escalate.agent.textfile import TextFileError, read_text, write_text
from escalate.workspace.protected import ProtectedPaths, glob_regex, glob_source, path_matches

__all__ = ["Editor", "ToolResult", "WriteGuard", "glob_regex", "glob_source", "path_matches"]

EDITOR_TOOL_TYPE = "text_editor_20250728"
EDITOR_TOOL_NAME = "str_replace_based_edit_tool"
COMMANDS = ("view", "create", "str_replace", "insert")
SNIPPET_LINES = 4
MAX_LISTED = 200
MAX_MATCH_LINES = 5  # str_replace names at most this many lines of a non-unique old_str
# Skipped by the directory walk when no file lister (git's view of the tree) is given.
WALK_SKIP = {".git", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".mypy_cache", ".ruff_cache"}


@dataclass(frozen=True)
class ToolResult:
    """What goes back to the model as a ``tool_result``; ``changed`` is the path edited, if any."""

    content: str
    is_error: bool = False
    changed: str | None = None


class _Refused(Exception):
    """A tool call that cannot be carried out; its message is the tool error text."""


def _match_lines(text: str, needle: str, limit: int) -> list[int]:
    """Line numbers of the first ``limit`` occurrences of needle, newlines counted once."""
    lines, pos, line, counted_to = [], text.find(needle), 1, 0
    while pos >= 0 and len(lines) < limit:
        line += text.count("\n", counted_to, pos)
        lines.append(line)
        counted_to = pos
        pos = text.find(needle, pos + len(needle))
    return lines


def _numbered(lines: list[str], first: int) -> str:
    # The real tool's `cat -n` layout: right-aligned number, a tab, the line.
    return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines, start=first))


# Why a write at a path is refused (a sentence for the model), or None. Asked twice: with None when the
# path is resolved (a role that may write test files only, say), then with the new text before it is
# written (the judge's files: pyproject.toml may change, its pytest and ruff tables may not).
WriteGuard = Callable[[str, str | None], str | None]


class Editor:
    """Carries out text editor and helper tool calls inside ``root``; see the module docstring.

    ``file_lister`` returns the repository's files relative to root (the runner passes
    ``Workspace.files`` so git's ignore rules apply); without it the helpers walk the tree.
    """

    def __init__(
        self,
        root: Path,
        protected: Iterable[str] = (),
        max_view_chars: int = 20000,
        *,
        file_lister: Callable[[], list[str]] | None = None,
        write_guard: WriteGuard | None = None,
    ):
        self.root = Path(root).resolve()
        self.write_guard = write_guard
        # Absolute paths may use the root as shown to the model or its resolved form (/tmp vs /private/tmp).
        self._shown_roots = sorted(
            {Path(root).absolute().as_posix(), self.root.as_posix()}, key=len, reverse=True
        )
        self.protected = list(protected)
        self._protected = ProtectedPaths(self.protected)
        self.max_view_chars = max_view_chars
        self.file_lister = file_lister
        self.changed: set[str] = set()

    def tools(self) -> list[dict]:
        """The tool definitions to send with every request."""
        return [
            {"type": EDITOR_TOOL_TYPE, "name": EDITOR_TOOL_NAME, "max_characters": self.max_view_chars},
            SEARCH_TOOL,
            {
                "name": "list_files",
                "description": (
                    f"List the repository's files under a directory that match a glob, at most {MAX_LISTED}. "
                    "`*` stays within a directory, `**` spans directories. Read-only."
                ),
                "input_schema": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "description": "Directory to list (default: root)."},
                        "glob": {"type": "string", "description": "Glob relative to path (default **/*)."},
                    },
                },
            },
        ]

    def handle(self, name: str, tool_input: dict) -> ToolResult:
        """Carry out one tool call; problems become ``is_error`` results, never exceptions."""
        try:
            if not isinstance(tool_input, dict):
                raise _Refused(f"Tool input must be a JSON object, got {type(tool_input).__name__}.")
            if name == EDITOR_TOOL_NAME:
                return self._editor(tool_input)
            if name == "search_repo":
                return ToolResult(self._search(tool_input))
            if name == "list_files":
                return ToolResult(self._list(tool_input))
            known = ", ".join([EDITOR_TOOL_NAME, "search_repo", "list_files"])
            raise _Refused(f"Unknown tool `{shown(name)}`. Available tools: {known}.")
        except (_Refused, TextFileError) as exc:
            return ToolResult(f"Error: {exc}", is_error=True)
        except OSError as exc:  # what no check foresaw (a full disk, a file limit): the model hears why
            where = f" ({shown(self._relative(exc.filename))})" if exc.filename else ""
            return ToolResult(
                f"Error: the filesystem refused this: {exc.strerror or exc}{where}.", is_error=True
            )

    # -- paths -----------------------------------------------------------------------------

    def _relative(self, filename: object) -> str:
        name = os.fsdecode(filename) if isinstance(filename, bytes | str) else str(filename)
        root = self.root.as_posix() + "/"
        return name[len(root) :] if name.startswith(root) else name

    def resolve(self, path: object, *, write: bool = False) -> tuple[Path, str]:
        """The absolute path and normalised relative path for a tool path, or ``_Refused``."""
        if not isinstance(path, str) or not path.strip():
            raise _Refused("Parameter `path` must be a non-empty string.")
        raw = path.strip()
        problem = path_problem(raw)
        if problem:
            raise _Refused(problem)
        if raw.startswith("/"):
            root = next((r for r in self._shown_roots if raw == r or raw.startswith(r + "/")), None)
            if root is None:
                raise _Refused(
                    f"The path {raw} is outside the repository. Use a path relative to the repository "
                    f"root, or an absolute path under {self._shown_roots[-1]}."
                )
            raw = raw[len(root) :].lstrip("/") or "."
        rel = posixpath.normpath(raw)
        if rel == ".." or rel.startswith("../"):
            raise _Refused(
                f"The path {shown(path)} leaves the repository (`..`); only files inside it can be used."
            )
        try:
            target = (self.root / rel).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            raise _Refused(f"The path {shown(path)} cannot be resolved: {exc}.") from None
        if target != self.root and self.root not in target.parents:
            raise _Refused(
                f"The path {shown(path)} resolves through a symlink to {shown(target)}, outside the "
                "repository; refused."
            )
        real_rel = target.relative_to(self.root).as_posix()
        for candidate in {rel, real_rel}:
            if ".git" in candidate.split("/"):
                raise _Refused(
                    f"The path {shown(path)} is inside git's own data (.git); it cannot be viewed or edited."
                )
            if write and self._protected.matches(candidate):
                raise _Refused(
                    f"The path {shown(path)} is protected "
                    f"(editor.protected_paths: {', '.join(self.protected)}); it may be viewed but not "
                    "edited. Fix the problem elsewhere."
                )
        refusal = self.write_guard(real_rel, None) if write and self.write_guard is not None else None
        if refusal:
            raise _Refused(refusal)
        return target, real_rel

    def _read(self, target: Path, path: str) -> str:
        return read_text(target, shown(path))

    def _write(self, target: Path, rel: str, text: str) -> None:
        # Only pyproject.toml's old text matters (its [tool.escalate] table); is_file() is false for a FIFO.
        pyproject = rel.casefold() == "pyproject.toml" and target.is_file()
        old = read_text(target, shown(rel)) if pyproject else None
        why = self._protected.reason(rel, text, old)
        if why is not None:
            raise _Refused(f"The path {shown(rel)} is protected ({why}); it may be viewed but not edited.")
        why = self.write_guard(rel, text) if self.write_guard is not None else None
        if why is not None:
            raise _Refused(why)
        write_text(target, shown(rel), text)
        self.changed.add(rel)

    # -- the text editor -------------------------------------------------------------------

    def _editor(self, args: dict) -> ToolResult:
        command = args.get("command")
        if command is None:
            raise _Refused(f"Parameter `command` is required. Allowed commands: {', '.join(COMMANDS)}.")
        if command not in COMMANDS:
            raise _Refused(f"Unknown command `{command}`. Allowed commands: {', '.join(COMMANDS)}.")
        if "path" not in args:
            raise _Refused(f"Parameter `path` is required for command: {command}.")
        return getattr(self, f"_{command}")(args)

    @staticmethod
    def _param(args: dict, name: str, kind: type, command: str):
        if name not in args or args[name] is None:
            raise _Refused(f"Parameter `{name}` is required for command: {command}.")
        value = args[name]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            raise _Refused(f"Parameter `{name}` must be of type {kind.__name__} for command: {command}.")
        return value

    def _view(self, args: dict) -> ToolResult:
        target, rel = self.resolve(args["path"])
        if target.is_dir():
            if args.get("view_range") is not None:
                raise _Refused("The `view_range` parameter is not allowed when `path` points to a directory.")
            return ToolResult(self._tree(target, rel))
        lines = self._read(target, args["path"]).splitlines()
        first, last = 1, len(lines)
        view_range = args.get("view_range")
        if view_range is not None:
            if (
                not isinstance(view_range, list)
                or len(view_range) != 2
                or not all(isinstance(n, int) and not isinstance(n, bool) for n in view_range)
            ):
                raise _Refused("Invalid `view_range`. It should be a list of two integers, e.g. [10, 40].")
            first, end = view_range
            if not 1 <= first <= max(len(lines), 1):
                raise _Refused(
                    f"Invalid `view_range`: {view_range}. Its first element `{first}` should be within "
                    f"the range of lines of the file: [1, {len(lines)}]."
                )
            if end != -1 and end < first:
                raise _Refused(
                    f"Invalid `view_range`: {view_range}. Its second element `{end}` should be -1 "
                    f"or at least its first element `{first}`."
                )
            last = len(lines) if end == -1 else min(end, len(lines))
        if not lines:
            return ToolResult(f"The file {rel} is empty.")
        wanted = lines[first - 1 : last]
        body, cut = self._fit(wanted, first)
        if cut:
            shown_last = first + len(wanted) - cut - 1
            body += (
                f"\n[... output truncated at {self.max_view_chars} characters: showing lines {first}-"
                f"{shown_last} of {len(lines)}. Use `view_range` to see lines {shown_last + 1} onward.]"
            )
        return ToolResult(body)

    def _fit(self, lines: list[str], first: int) -> tuple[str, int]:
        """Numbered lines within max_view_chars (whole lines only); returns text and lines cut."""
        out, size = [], 0
        for n, line in enumerate(lines):
            row = f"{first + n:6}\t{line}"
            if size + len(row) + 1 > self.max_view_chars and out:
                return "\n".join(out), len(lines) - n
            out.append(row[: self.max_view_chars])
            size += len(row) + 1
        return "\n".join(out), 0

    def _tree(self, target: Path, rel: str) -> str:
        entries = []
        base_depth = len(target.parts)
        for dirpath, dirnames, filenames in os.walk(target):
            depth = len(Path(dirpath).parts) - base_depth
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in WALK_SKIP)
            here = Path(dirpath).relative_to(self.root)
            for name in dirnames:
                entries.append((here / name).as_posix() + "/")
            for name in sorted(filenames):
                if not name.startswith("."):
                    entries.append((here / name).as_posix())
            if depth >= 1:
                dirnames[:] = []  # two levels: the directory's entries and their entries
        entries.sort()
        note = ""
        if len(entries) > MAX_LISTED:
            note = f"\n[... {len(entries) - MAX_LISTED} more entries not shown; view a subdirectory.]"
            entries = entries[:MAX_LISTED]
        head = f"Files and directories up to 2 levels deep in {rel}, excluding hidden items:\n"
        return head + "\n".join(entries) + note

    def _snippet(self, text: str, at_line: int, n_new: int) -> str:
        lines = text.splitlines()
        start = max(at_line - SNIPPET_LINES, 1)
        end = min(at_line + n_new + SNIPPET_LINES, len(lines))
        return _numbered(lines[start - 1 : end], start)

    def _str_replace(self, args: dict) -> ToolResult:
        old = self._param(args, "old_str", str, "str_replace")
        new = args.get("new_str") or ""
        if not isinstance(new, str):
            raise _Refused("Parameter `new_str` must be of type str for command: str_replace.")
        if old == "":
            raise _Refused("Parameter `old_str` must not be empty; use `insert` or `create` to add text.")
        target, rel = self.resolve(args["path"], write=True)
        text = self._read(target, args["path"])
        if old not in text and "\r\n" in text and "\r\n" not in old:
            old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")  # a CRLF file
        count = text.count(old)  # one pass, however many matches
        if count == 0:
            raise _Refused(f"No replacement was performed, old_str did not appear verbatim in {rel}.")
        if count > 1:
            lines = _match_lines(text, old, MAX_MATCH_LINES)
            listed = ", ".join(map(str, lines)) + (f", ... ({count} in all)" if count > len(lines) else "")
            raise _Refused(
                f"No replacement was performed. Multiple occurrences of old_str in lines [{listed}]. "
                "Please ensure it is unique."
            )
        first_at = text.index(old)
        updated = text.replace(old, new, 1)
        self._write(target, rel, updated)
        at = text.count("\n", 0, first_at) + 1
        return ToolResult(
            f"The file {rel} has been edited. Here's the result of running `cat -n` on a snippet of {rel}:\n"
            f"{self._snippet(updated, at, new.count(chr(10)))}\n"
            "Review the changes and make sure they are as expected. Edit the file again if necessary.",
            changed=rel,
        )

    def _create(self, args: dict) -> ToolResult:
        text = self._param(args, "file_text", str, "create")
        target, rel = self.resolve(args["path"], write=True)
        if target.is_dir():
            raise _Refused(f"The path {args['path']} is a directory; `create` needs a file path.")
        existed = target.exists()
        self._write(target, rel, text)
        # The real tool overwrites silently; saying so helps the model notice a clobbered file.
        verb = "overwritten (it already existed)" if existed else "created"
        return ToolResult(f"File {verb} successfully at: {rel}", changed=rel)

    def _insert(self, args: dict) -> ToolResult:
        line = self._param(args, "insert_line", int, "insert")
        # Older tool versions called the text `new_str`; accept both.
        key = "insert_text" if "insert_text" in args else "new_str" if "new_str" in args else "insert_text"
        new = self._param(args, key, str, "insert")
        target, rel = self.resolve(args["path"], write=True)
        text = self._read(target, args["path"])
        lines = text.splitlines(keepends=True)
        if not 0 <= line <= len(lines):
            raise _Refused(
                f"Invalid `insert_line` parameter: {line}. It should be within the range of lines "
                f"of the file: [0, {len(lines)}]."
            )
        eol = "\r\n" if "\r\n" in text else "\n"
        if lines and not lines[-1].endswith(("\n", "\r")) and line == len(lines):
            lines[-1] += eol
        block = new if new.endswith(("\n", "\r")) or (line == len(lines) and not new) else new + eol
        updated = "".join(lines[:line]) + block + "".join(lines[line:])
        self._write(target, rel, updated)
        return ToolResult(
            f"The file {rel} has been edited. Here's the result of running `cat -n` on a snippet of "
            f"the edited file:\n{self._snippet(updated, line + 1, block.count(chr(10)))}\n"
            "Review the changes and make sure they are as expected (correct indentation, no duplicate "
            "lines). Edit the file again if necessary.",
            changed=rel,
        )

    # -- read-only helpers -----------------------------------------------------------------

    def _files(self) -> list[str]:
        if self.file_lister is not None:
            return sorted(self.file_lister())
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in WALK_SKIP and not d.startswith(".")]
            here = Path(dirpath).relative_to(self.root)
            found.extend((here / name).as_posix() for name in filenames)
        return sorted(found)

    def _scope(self, args: dict, glob_key: str, default_glob: str | None) -> list[str]:
        _, base = self.resolve(args.get("path") or ".")
        base = "" if base == "." else base
        pattern = args.get(glob_key) or default_glob
        if pattern is not None and not isinstance(pattern, str):
            raise _Refused(f"Parameter `{glob_key}` must be a string glob such as **/*.py.")
        try:
            matches = compile_glob(glob_source(pattern)) if pattern else None
        except SearchError as exc:
            raise _Refused(f"Invalid `{glob_key}`: {exc}") from None
        out = []
        for rel in self._files():
            if rel.split("/")[0] == ".git" or "/.git/" in f"/{rel}":
                continue
            if base and rel != base and not rel.startswith(base + "/"):
                continue
            sub = rel[len(base) + 1 :] if base and rel != base else rel
            if matches is None or matches(sub) or matches(rel):
                out.append(rel)
        return out

    def _search(self, args: dict) -> str:
        pattern = args.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise _Refused("Parameter `pattern` is required for search_repo and must be a non-empty string.")
        try:
            program = compile_pattern(
                pattern, regex=bool(args.get("regex")), ignore_case=bool(args.get("ignore_case"))
            )
        except SearchError as exc:
            raise _Refused(str(exc)) from None
        return describe(pattern, search(self.root, self._scope(args, "glob", None), program))

    def _list(self, args: dict) -> str:
        files = self._scope(args, "glob", "**/*")
        if not files:
            return "No files match."
        note = ""
        if len(files) > MAX_LISTED:
            note = f"\n[... {len(files) - MAX_LISTED} more files not shown; narrow the path or glob.]"
        return "\n".join(files[:MAX_LISTED]) + note
