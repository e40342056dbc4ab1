"""The repository map: every module's classes and functions with signatures, ranked toward a failure.

Built from Python's ``ast`` (no imports of the user's code). Ranking, best first:

1. files named in the traceback (``focus_files``), in the order given;
2. files defining a name mentioned in the traceback or issue text (``focus_names``), most matches first;
3. files importing a file from 1 or 2;
4. everything else, most recently modified first, then largest.

The rendered map is cut to ``budget_tokens`` (tokens estimated as ceil(chars / 4), the usual rough
ratio for code in Claude's tokenizer); a trailer says how many files were left out. Parsed files are
cached in ``<cache_dir>/repomap.json`` keyed by path, mtime_ns and size, so a second build only
re-parses files that changed.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

CACHE_VERSION = 1
CACHE_FILE = "repomap.json"
# Directories that never hold the project's own code.
SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", "env", ".env", "node_modules", "__pycache__", "build",
        "dist", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".escalate", "site-packages",
        ".eggs",
    }
)  # fmt: skip
MAX_LINE = 160
# File paths in Python tracebacks ('File "x.py", line 3'), pytest output ("x.py:12: in f") and
# pytest node ids ("tests/test_x.py::test_y").
TRACEBACK_FILE = re.compile(
    r'File "([^"]+\.py)", line \d+|^([\w./\\-]+\.py):\d+|([\w./\\-]+\.py)::', re.MULTILINE
)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def estimate_tokens(text: str) -> int:
    """Rough token count: ceil(chars / 4)."""
    return math.ceil(len(text) / 4)


@dataclass
class FileSummary:
    """What the map knows about one file; this is what the cache stores."""

    path: str  # posix, relative to the root
    mtime_ns: int
    size: int
    lines: list[str] = field(default_factory=list)  # rendered signatures, indented
    defines: list[str] = field(default_factory=list)  # top-level names, classes, methods
    imports: list[str] = field(default_factory=list)  # absolute dotted names imported
    syntax_error: bool = False

    @property
    def module(self) -> str:
        return module_name(self.path)

    def render(self) -> str:
        if self.syntax_error:
            return f"{self.path}: (syntax error)\n"
        if not self.lines:
            return f"{self.path}\n"
        return f"{self.path}:\n" + "".join(f"{line}\n" for line in self.lines)


@dataclass
class RepoMap:
    text: str  # the rendered map, within the budget
    files: list[str]  # every Python file, ranked best first
    shown: list[str]  # the files rendered in ``text`` (a prefix-ranked subset of ``files``)
    tokens: int  # estimate_tokens(text)
    omitted: int  # files left out for the budget
    parsed: int  # files parsed in this build (cache misses)


def module_name(path: str) -> str:
    """Dotted module name of a repo-relative path: ``src/pkg/mod.py`` -> ``pkg.mod``."""
    parts = list(Path(path).with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def files_in_traceback(text: str, root: Path) -> list[str]:
    """Repo-relative paths of files under ``root`` named in a traceback or pytest output, in order."""
    root = Path(root).resolve()
    found: list[str] = []
    for m in TRACEBACK_FILE.finditer(text):
        raw = Path(m.group(1) or m.group(2) or m.group(3))
        candidate = raw if raw.is_absolute() else root / raw
        try:
            rel = candidate.resolve().relative_to(root).as_posix()
        except ValueError:
            continue  # site-packages and the standard library are not ours to map
        if (root / rel).is_file() and rel not in found:
            found.append(rel)
    return found


def names_in_text(text: str) -> list[str]:
    """Identifiers in free text (``Cart.total`` gives ``Cart.total``, ``Cart`` and ``total``)."""
    names: list[str] = []
    for m in IDENTIFIER.finditer(text):
        for name in [m.group(0), *m.group(0).split(".")]:
            if len(name) > 2 and name not in names:
                names.append(name)
    return names


def build_map(
    root: Path,
    *,
    focus_files: Iterable[str | Path] = (),
    focus_names: Iterable[str] = (),
    budget_tokens: int = 2000,
    cache_dir: Path | None = None,
    use_cache: bool = True,
) -> RepoMap:
    """The ranked, budgeted map of the Python files under ``root``.

    ``cache_dir`` defaults to ``<root>/.escalate/cache``; pass a directory outside a worktree when the
    worktree's contents must stay untouched.
    """
    root = Path(root).resolve()
    cache_path = (Path(cache_dir) if cache_dir else root / ".escalate" / "cache") / CACHE_FILE
    cached = _load_cache(cache_path) if use_cache else {}
    summaries: dict[str, FileSummary] = {}
    parsed = 0
    for path in _python_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            st = path.stat()
        except OSError:
            continue  # a broken symlink or a file deleted mid-walk
        hit = cached.get(rel)
        if hit and hit.mtime_ns == st.st_mtime_ns and hit.size == st.st_size:
            summaries[rel] = hit
        else:
            try:
                summaries[rel] = summarize(path, rel, st.st_mtime_ns, st.st_size)
            except OSError:
                continue  # unreadable: nothing to show
            parsed += 1
    if use_cache and (parsed or set(cached) != set(summaries)):
        _save_cache(cache_path, summaries)

    ranked = rank(summaries, _relative(focus_files, root), list(focus_names))
    text, shown = _render(ranked, summaries, set(_relative(focus_files, root)), budget_tokens)
    return RepoMap(
        text=text,
        files=ranked,
        shown=shown,
        tokens=estimate_tokens(text),
        omitted=len(ranked) - len(shown),
        parsed=parsed,
    )


def _relative(paths: Iterable[str | Path], root: Path) -> list[str]:
    out = []
    for p in paths:
        p = Path(p)
        if p.is_absolute():
            try:
                p = p.resolve().relative_to(root)
            except ValueError:
                continue
        rel = p.as_posix()
        if rel not in out:
            out.append(rel)
    return out


def _python_files(root: Path) -> list[Path]:
    ignored = _gitignored_names(root)
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS
            and not d.endswith(".egg-info")
            and not (here / d / "pyvenv.cfg").exists()  # any virtualenv, whatever its name
            and not any(fnmatch.fnmatch(d, pat) for pat in ignored)
        )
        files += [here / f for f in sorted(filenames) if f.endswith(".py")]
    return files


def _gitignored_names(root: Path) -> list[str]:
    """Directory-name patterns from the root .gitignore (``build/``, ``out``); enough to skip build dirs."""
    try:
        lines = (root / ".gitignore").read_text().splitlines()
    except OSError:
        return []
    pats = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "/" not in line.rstrip("/") and "." not in line:
            pats.append(line.rstrip("/"))
    return pats


def summarize(path: Path, rel: str, mtime_ns: int, size: int) -> FileSummary:
    """Parse one file into its signature lines, defined names and imports."""
    summary = FileSummary(path=rel, mtime_ns=mtime_ns, size=size)
    try:
        tree = ast.parse(path.read_bytes(), filename=rel)
    except (SyntaxError, ValueError):  # ValueError: null bytes
        summary.syntax_error = True
        return summary
    package = module_name(rel) if rel.endswith("__init__.py") else module_name(rel).rpartition(".")[0]
    for node in tree.body:
        _describe(node, summary, indent="  ")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            summary.imports += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(node, package)
            summary.imports.append(base)
            summary.imports += [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
    summary.imports = sorted(set(filter(None, summary.imports)))
    return summary


def _resolve_from(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*parts, *([node.module] if node.module else [])])


def _describe(node: ast.stmt, summary: FileSummary, indent: str) -> None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        summary.defines.append(node.name)
        summary.lines.append(_clip(indent + _signature(node)))
    elif isinstance(node, ast.ClassDef):
        summary.defines.append(node.name)
        bases = ", ".join(ast.unparse(b) for b in node.bases + node.keywords)  # type: ignore[operator]
        summary.lines.append(_clip(f"{indent}class {node.name}{f'({bases})' if bases else ''}:"))
        for child in node.body:
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                _describe(child, summary, indent + "  ")
            elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
                summary.lines.append(_clip(f"{indent}  {child.target.id}: {ast.unparse(child.annotation)}"))
    elif isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            # Module constants (UPPER_CASE) are part of a module's interface; other globals are noise.
            if isinstance(t, ast.Name) and t.id.isupper():
                summary.defines.append(t.id)
                summary.lines.append(_clip(f"{indent}{t.id} = ..."))


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    decorators = "".join(f"@{ast.unparse(d)} " for d in node.decorator_list if isinstance(d, ast.Name))
    return f"{decorators}{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def _clip(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."


def rank(summaries: dict[str, FileSummary], focus_files: list[str], focus_names: list[str]) -> list[str]:
    """File paths, best first (see the module docstring for the order)."""
    first = [f for f in focus_files if f in summaries]
    wanted = set(focus_names)
    score: dict[str, int] = {}
    for rel, s in summaries.items():
        hits = len(wanted & set(s.defines)) + (s.module in wanted or s.module.rpartition(".")[2] in wanted)
        if hits and rel not in first:
            score[rel] = hits
    second = sorted(score, key=lambda r: (-score[r], r))
    targets = {summaries[r].module for r in first + second if summaries[r].module}
    third = sorted(
        r
        for r, s in summaries.items()
        if r not in first and r not in score and any(imp in targets for imp in s.imports)
    )
    placed = set(first) | set(second) | set(third)
    rest = sorted(
        (r for r in summaries if r not in placed),
        key=lambda r: (-summaries[r].mtime_ns, -summaries[r].size, r),
    )
    return first + second + third + rest


def _render(
    ranked: list[str], summaries: dict[str, FileSummary], focus: set[str], budget_tokens: int
) -> tuple[str, list[str]]:
    budget_chars = budget_tokens * 4
    # Room for the worst-case trailer, so the trailer never pushes the text over the budget.
    trailer_room = len(_trailer(len(ranked), budget_tokens))
    parts: list[str] = []
    shown: list[str] = []
    used = 0
    for rel in ranked:
        block = summaries[rel].render()
        room = budget_chars - trailer_room - used
        if len(block) > room and rel in focus:
            # A traceback file is worth a partial listing: keep the signatures that fit.
            lines = block.splitlines(keepends=True)
            while lines and sum(map(len, lines)) + len("  ...\n") > room:
                lines.pop()
            block = "".join(lines) + "  ...\n" if len(lines) > 1 else ""
        if block and len(block) <= room:
            parts.append(block)
            shown.append(rel)
            used += len(block)
    left_out = len(ranked) - len(shown)
    text = "".join(parts)
    if left_out:
        # Clipped only when the budget is too small for even the trailer.
        text = (text + _trailer(left_out, budget_tokens))[:budget_chars]
    return text, shown


def _trailer(left_out: int, budget_tokens: int) -> str:
    return f"... {left_out} more file(s) not shown (map budget {budget_tokens} tokens)\n"


def _load_cache(path: Path) -> dict[str, FileSummary]:
    try:
        raw = json.loads(path.read_text())
        if raw.get("version") != CACHE_VERSION:
            return {}
        return {rel: FileSummary(**entry) for rel, entry in raw["files"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # a missing or damaged cache only costs a re-parse


def _save_cache(path: Path, summaries: dict[str, FileSummary]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        data = {"version": CACHE_VERSION, "files": {rel: asdict(s) for rel, s in summaries.items()}}
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new cache, never half
    except OSError:
        pass  # a read-only checkout still gets a map, just not a cached one
