"""A sample project with one of each kind of nightly work, for the batch and discovery tests.

- a failing test: ``tests/test_ops.py::test_add`` (add() subtracts), from samplerepo's calc;
- a DeprecationWarning raised at ``calc/legacy.py:5`` while ``tests/test_legacy.py`` runs;
- a ruff finding `ruff --fix` cannot fix (E741 in ``calc/style.py``) next to one it can (F401).
"""

from __future__ import annotations

from pathlib import Path

from samplerepo import CALC_FILES, CALC_FIX, make_repo, tool

LEGACY = (
    "import warnings\n"
    "\n\n"
    "def old_mean(xs):\n"
    '    warnings.warn("old_mean() is deprecated", DeprecationWarning, stacklevel=1)\n'
    "    return sum(xs) / len(xs)\n"
)
STYLE = "import os\n\n\ndef biggest(values):\n    l = max(values)\n    return l\n"

NIGHTLY_FILES = {
    **CALC_FILES,
    "calc/legacy.py": LEGACY,
    "calc/style.py": STYLE,
    "tests/test_legacy.py": (
        "from calc.legacy import old_mean\n\n\ndef test_mean():\n    assert old_mean([1, 3]) == 2\n"
    ),
}

# Edits that fix each finding, as text editor tool inputs.
TEST_EDITS = [
    {"command": "str_replace", **CALC_FIX},
    {
        "command": "str_replace",
        "path": "calc/ops.py",
        "old_str": "def mul(a, b):\n",
        "new_str": "def mul(a, b):\n    # multiplication is commutative; kept as written\n",
    },
]
WARNING_EDITS = [
    {
        "command": "str_replace",
        "path": "calc/legacy.py",
        "old_str": "import warnings\n\n\ndef old_mean(xs):\n"
        '    warnings.warn("old_mean() is deprecated", DeprecationWarning, stacklevel=1)\n',
        "new_str": "def old_mean(xs):\n",
    }
]
LINT_EDITS = [
    {
        "command": "str_replace",
        "path": "calc/style.py",
        "old_str": "    l = max(values)\n    return l\n",
        "new_str": "    largest = max(values)\n    return largest\n",
    }
]


def make_nightly_repo(tmp_path: Path, extra: dict[str, str] | None = None, *, name: str = "repo") -> Path:
    return make_repo(tmp_path, {**NIGHTLY_FILES, **(extra or {})}, name=name)


def tool_uses(edits: list[dict], text: str = "Fixed.") -> list[dict]:
    """Sim script content: a text block, then one str_replace_based_edit_tool call per edit."""
    blocks: list[dict] = [{"type": "text", "text": text}]
    blocks += [tool(**e) for e in edits]
    return blocks
