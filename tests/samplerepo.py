"""Sample repositories for tests: real git repos in temp dirs, with local identity only.

Other test modules import this: ``from samplerepo import make_repo, make_calc_repo``
(pytest puts ``tests/`` on ``sys.path`` through rootdir-relative imports).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from escalate.workspace.sandbox import probe_bwrap

# The python that runs the sample projects' tests: the one running this test session.
PYTEST_COMMAND = [sys.executable, "-m", "pytest"]
RUFF_COMMAND = [sys.executable, "-m", "ruff", "check"]
# Tests that need a working bubblewrap (the probe starts it once per process).
NEEDS_BWRAP = pytest.mark.skipif(
    not probe_bwrap().ok, reason=f"bubblewrap cannot run here: {probe_bwrap().reason}"
)
# The helper roles off: a test whose scripted replies all belong to the implementer.
ROLES_OFF = {role: {"enabled": False} for role in ("explorer", "planner", "reviewer", "committer")}

# The sample turns off anyio's pytest plugin (installed with the SDK, loaded by every inner pytest
# run): it halves each run's start (0.36 s -> 0.19 s) and the samples have no async tests. Where
# hypothesis is installed (not an escalate dependency, but on many machines), its plugin imports all
# of hypothesis into every inner run: about 1 s of CPU of a 1.3 s start; pytest-benchmark's (also not
# ours) starts `git rev-parse` and `file` in every run: 0.06 s more. The samples use neither.
SAMPLE_PYPROJECT = """\
[project]
name = "sample"
version = "0.0.1"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
addopts = "-p no:anyio -p no:hypothesispytest -p no:benchmark"

[tool.ruff]
line-length = 110

[tool.ruff.lint]
select = ["E", "F"]
"""

# A calculator whose add() subtracts: tests/test_ops.py::test_add fails, the rest pass.
CALC_FILES: dict[str, str] = {
    "pyproject.toml": SAMPLE_PYPROJECT,
    ".gitignore": "__pycache__/\n*.pyc\n",
    "calc/__init__.py": 'from calc.ops import add, mul, sub\n\n__all__ = ["add", "mul", "sub"]\n',
    "calc/ops.py": (
        "def add(a, b):\n"
        "    return a - b\n"
        "\n\n"
        "def sub(a, b):\n"
        "    return a - b\n"
        "\n\n"
        "def mul(a, b):\n"
        "    return a * b\n"
    ),
    "tests/test_ops.py": (
        "from calc import add, mul, sub\n"
        "\n\n"
        "def test_add():\n"
        "    assert add(2, 3) == 5\n"
        "\n\n"
        "def test_sub():\n"
        "    assert sub(5, 3) == 2\n"
        "\n\n"
        "def test_mul():\n"
        "    assert mul(4, 3) == 12\n"
    ),
}

# The edit that fixes CALC_FILES, as text editor str_replace arguments.
CALC_FIX = {
    "path": "calc/ops.py",
    "old_str": "def add(a, b):\n    return a - b",
    "new_str": "def add(a, b):\n    return a + b",
}
CALC_TARGET = "tests/test_ops.py::test_add"

# What a scripted model sends: text editor tool_use blocks.
EDITOR = "str_replace_based_edit_tool"
EDITOR_TOOL = {"type": "text_editor_20250728", "name": EDITOR}  # as a request declares it


def tool(command: str, **args) -> dict:
    """A text editor call, as the model sends it: ``tool("view", path="calc/ops.py")``."""
    return {"type": "tool_use", "name": EDITOR, "input": {"command": command, **args}}


def edit(old_str: str, new_str: str, path: str = "calc/ops.py") -> dict:
    """A ``str_replace`` call: ``edit(old, new)`` in calc/ops.py, ``edit(**CALC_FIX)``."""
    return tool("str_replace", path=path, old_str=old_str, new_str=new_str)


FIX = edit(**CALC_FIX)
# A sim script's `when`: the opening turn of an attempt, and a turn once the tool results are back.
OPEN = {"last_user_has_tool_result": False}
AFTER_TOOLS = {"last_user_has_tool_result": True}
# Two wrong fixes in a row: add() multiplies, then (on top of that) subtracts the other way.
WRONG_1 = edit("def add(a, b):\n    return a - b", "def add(a, b):\n    return a * b")
WRONG_2 = edit("def add(a, b):\n    return a * b", "def add(a, b):\n    return b - a")


def git(cwd: Path, *args: str) -> str:
    """Run git in cwd and return stdout; raises with stderr on failure."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def make_repo(tmp_path: Path, files: dict[str, str], *, commit: bool = True, name: str = "repo") -> Path:
    """A git repo at tmp_path/name holding files, committed on branch main unless commit=False."""
    root = tmp_path / name
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    # Local identity only: tests must never depend on the machine's global git config.
    git(root, "config", "user.name", "Sample Author")
    git(root, "config", "user.email", "sample@example.com")
    git(root, "config", "commit.gpgsign", "false")
    write_files(root, files)
    if commit:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
    return root


def make_calc_repo(tmp_path: Path, extra: dict[str, str] | None = None, *, name: str = "repo") -> Path:
    """The calc sample project (one failing test: CALC_TARGET), plus any extra files, committed."""
    return make_repo(tmp_path, {**CALC_FILES, **(extra or {})}, name=name)


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under root, .git included (index, refs, stash): a byte-for-byte picture.

    Paths under .git that git itself changes when a worktree is added elsewhere (the
    worktrees/ admin dir, refs of the new branch, packed/loose objects, logs) are left
    out; everything the user sees or stages is in.
    """
    skip = (
        ".git/worktrees",
        ".git/objects",
        ".git/refs/heads/escalate",
        ".git/logs/refs/heads/escalate",
        ".git/packed-refs",  # rewritten by `branch -D`; refs are compared via for-each-ref instead
    )
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() or not path.is_file() or rel.startswith(skip):
            continue
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    refs = git(root, "for-each-ref", "--format=%(refname) %(objectname)")
    out["<refs>"] = "\n".join(r for r in refs.splitlines() if not r.startswith("refs/heads/escalate/"))
    return out


def calls_jsonl(outcome_or_dir) -> list[dict]:
    """The rows of a run's calls.jsonl (from an Outcome, or its log dir)."""
    log_dir = Path(getattr(outcome_or_dir, "log_dir", outcome_or_dir))
    return [json.loads(x) for x in (log_dir / "calls.jsonl").read_text().splitlines() if x]


def worktree_count(root: Path) -> int:
    """How many worktrees the repository has (1: only the user's own checkout)."""
    return git(root, "worktree", "list", "--porcelain").count("worktree ")


def config_yaml(timeout_s: float = 60, tiers: list[dict] | None = None, **validate) -> str:
    """An .escalate.yml for a sample repository: this session's pytest and ruff, the helper roles off
    (every scripted reply is the implementer's), the validate keys given."""
    lines = [
        *([f"tiers: {json.dumps(tiers)}"] if tiers else []),
        "validate:",
        f"  test_command: {json.dumps(PYTEST_COMMAND)}",
        f"  ruff_command: {json.dumps(RUFF_COMMAND)}",
        f"  timeout_s: {timeout_s}",
        *(f"  {k}: {json.dumps(v)}" for k, v in validate.items()),
        "roles:",
        *(f"  {role}: {{enabled: false}}" for role in ROLES_OFF),
    ]
    return "\n".join(lines) + "\n"


def sample_config(root: Path, *layers: dict):
    """The runner's config for a sample repository: this session's pytest and ruff, a 60 s timeout;
    each layer's sections merge into the ones before it (a dict section key by key, anything else
    replaced)."""
    from escalate.config import load_config

    validate = {"test_command": PYTEST_COMMAND, "ruff_command": RUFF_COMMAND, "timeout_s": 60}
    merged: dict = {"validate": validate}
    for layer in layers:
        for key, value in layer.items():
            old = merged.get(key)
            merged[key] = {**old, **value} if isinstance(value, dict) and isinstance(old, dict) else value
    return load_config(root, merged)
