"""Protected paths: what a patch may never change, checked in the editor and on the final change set.

The editor refuses edits to protected paths, but files also appear without the editor (test code
writing into the tree, a symlink made by a test). So the same rules are checked again on the
change set itself, before every commit and every push. Patterns compare case-insensitively: on a
case-insensitive file system (macOS, Windows) ``.GitHub/workflows/x.yml`` *is* the workflow file.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# The [tool.escalate] table configures escalate itself (budgets, protected paths, validation).
PYPROJECT = "pyproject.toml"
SYMLINK_MODE = "120000"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob from the config: ``*`` and ``?`` stay within one directory, ``**`` spans
    directories. Case-insensitive: a pattern protects every spelling of its path.

    A glob from the model goes through ``agent.search.compile_glob`` (RE2) instead: Python's
    backtracking takes time exponential in the number of ``*`` on a long name.
    """
    return re.compile(glob_source(pattern) + r"\Z", re.IGNORECASE)


def glob_source(pattern: str) -> str:
    """The unanchored regular expression for a path glob, in syntax Python's re and RE2 share."""
    out, i = [], 0
    pattern = pattern.strip().lstrip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out).rstrip("/")


def path_matches(rel: str, patterns: Iterable[re.Pattern[str]]) -> bool:
    """True when rel, or one of its parent directories, matches a pattern.

    Matching parents too means ``.github/workflows`` (no ``/**``) protects the files inside it.
    """
    parts = rel.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(p.match(c) for p in patterns for c in candidates)


def escalate_table(text: str | bytes | None) -> object:
    """pyproject.toml's [tool.escalate] table (None when absent); an unreadable file is its own value."""
    if text is None:
        return None
    try:
        data = tomllib.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "<not valid TOML>"
    tool = data.get("tool")
    return tool.get("escalate") if isinstance(tool, dict) else None


@dataclass(frozen=True)
class FileChange:
    """One changed path of a change set: status A/M/D, the new git mode ("" when deleted)."""

    path: str
    status: str
    mode: str = ""


class ProtectedPaths:
    """The protected-path rules of one run: glob patterns, [tool.escalate], added symlinks."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = list(patterns)
        self._res = [glob_regex(p) for p in self.patterns]

    def matches(self, rel: str) -> bool:
        return path_matches(rel, self._res)

    def reason(self, rel: str, new_text: str | bytes | None, old_text: str | bytes | None) -> str | None:
        """Why writing new_text over old_text at rel is refused, or None when it is allowed."""
        if self.matches(rel):
            return f"a protected path (editor.protected_paths: {', '.join(self.patterns)})"
        if rel.casefold() == PYPROJECT and escalate_table(new_text) != escalate_table(old_text):
            return "its [tool.escalate] table configures escalate itself"
        return None

    def violations(
        self, changes: Iterable[FileChange], read_new: Callable[[str], bytes | None],
        read_base: Callable[[str], bytes | None],
    ) -> list[tuple[str, str]]:  # fmt: skip
        """(path, why) for each change that breaks a rule; empty when the change set is clean."""
        found = []
        for change in changes:
            if change.mode == SYMLINK_MODE:
                found.append((change.path, "a symlink made by the change"))
                continue
            pyproject = change.path.casefold() == PYPROJECT
            new = read_new(change.path) if pyproject else None
            why = self.reason(change.path, new, read_base(change.path) if pyproject else None)
            if why is not None:
                found.append((change.path, why))
        return found


def parse_raw_diff(out: str) -> list[FileChange]:
    """``git diff-tree -r -z --raw --no-renames`` output -> changes (status A, M or D; new mode)."""
    fields = [f for f in out.split("\0") if f]
    changes = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=True):
        _, new_mode, _, _, status = meta.lstrip(":").split(" ")
        kind = status[0] if status[0] in "AD" else "M"
        changes.append(FileChange(path, kind, "" if kind == "D" else new_mode))
    return sorted(changes, key=lambda c: c.path)


def range_violations(
    repo_root: Path, head: str, rules: ProtectedPaths, base: str = "HEAD"
) -> list[tuple[str, str]]:
    """The protected-path rules over what ``head`` changes since its fork point from ``base``
    (the check before a push: the branch as it is, whatever made its commits)."""

    from escalate.workspace.hardening import minimal_env, safe_git

    def git(*args: str) -> bytes:
        proc = subprocess.run(  # escalate's hardened git: no token in its environment, no drivers
            safe_git(repo_root, *args), capture_output=True, env=minimal_env(), stdin=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            raise ValueError(proc.stderr.decode(errors="replace").strip())
        return proc.stdout

    fork = git("merge-base", base, head).decode().strip()

    def reader(commit: str) -> Callable[[str], bytes | None]:
        def read(rel: str) -> bytes | None:
            try:
                return git("cat-file", "blob", f"{commit}:{rel}")
            except ValueError:
                return None

        return read

    raw = git("diff-tree", "-r", "--no-renames", "--raw", "-z", fork, head).decode("utf-8", "surrogateescape")
    return rules.violations(parse_raw_diff(raw), reader(head), reader(fork))
