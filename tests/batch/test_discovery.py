"""Discovery: a failing test, an unfixable ruff finding (a fixable one is not), a warning at file:line."""

from __future__ import annotations

import re

from batchrepo import LEGACY, STYLE, make_nightly_repo
from samplerepo import PYTEST_COMMAND, make_calc_repo

from escalate.batch.discovery import scan, still_present
from escalate.config import load_config
from escalate.task import stable_slug

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _config(root, **batch):
    return load_config(root, {"validate": {"test_command": PYTEST_COMMAND}, "batch": batch})


def test_scan_finds_each_kind(tmp_path):
    root = make_nightly_repo(tmp_path)
    found = scan(root, _config(root), "base")

    assert list(found.failing) == ["tests/test_ops.py::test_add"]
    assert "assert -1 == 5" in found.failing["tests/test_ops.py::test_add"]

    [warning] = found.warnings
    assert (warning.path, warning.line, warning.category) == ("calc/legacy.py", 5, "DeprecationWarning")
    assert warning.tests == ["tests/test_legacy.py::test_mean"]

    # E741 has no fix; F401 (unused import) has a safe fix that `ruff check --fix` applies itself.
    assert [(f.path, f.code, f.line) for f in found.lint] == [("calc/style.py", "E741", 5)]

    assert [t.kind for t in found.tasks] == ["test", "warning", "lint"]
    test_task, warning_task, lint_task = found.tasks
    assert test_task.target_tests == ["tests/test_ops.py::test_add"]
    assert "calc/legacy.py:5: DeprecationWarning: old_mean() is deprecated" in warning_task.text
    assert "E741" in lint_task.text and "F401" not in lint_task.text
    for task in found.tasks:
        assert CUSTOM_ID.match(task.slug) and len(f"batch-{task.slug}") <= 60
    assert set(found.checks) == {warning_task.slug, lint_task.slug}


def test_slugs_are_stable_and_filters_apply(tmp_path):
    root = make_nightly_repo(tmp_path)
    # A slug depends on the finding only, never on the night or the process: the ledger keys on it.
    slug = stable_slug("test", "tests/test_ops.py", "tests/test_ops.py")
    assert slug == "test-tests-test-ops-py-50dc911a93"
    assert stable_slug("lint", "x" * 200, "id") != stable_slug("lint", "x" * 200, "other")
    # Paths keep tests/test_ops.py out; rules "F" keep E741 out, and F401 stays out since ruff fixes it.
    found = scan(root, _config(root, paths=["calc/legacy.py", "calc/style.py"], ruff_rules=["F"]), "base")
    assert [t.kind for t in found.tasks] == ["warning"]


def test_a_clean_project_has_nothing_to_do(tmp_path):
    root = make_calc_repo(tmp_path, {"calc/ops.py": "def add(a, b):\n    return a + b\n\n\n"
                                                    "def sub(a, b):\n    return a - b\n\n\n"
                                                    "def mul(a, b):\n    return a * b\n"})  # fmt: skip
    assert scan(root, _config(root), "base").tasks == []


def test_still_present_tells_a_fixed_finding_from_a_remaining_one(tmp_path):
    root = make_nightly_repo(tmp_path)
    config = _config(root)
    lint_check = {"kind": "lint", "path": "calc/style.py", "codes": ["E741"]}
    warning_check = {"kind": "warning", "path": "calc/legacy.py", "category": "DeprecationWarning",
                     "message": "old_mean() is deprecated"}  # fmt: skip
    tests = ["tests/test_legacy.py::test_mean"]
    assert still_present(lint_check, root, config, []) == [
        "calc/style.py:5: E741 Ambiguous variable name: `l`"
    ]
    assert still_present(warning_check, root, config, tests) == [
        "calc/legacy.py:5: DeprecationWarning: old_mean() is deprecated"
    ]
    fixed_style = STYLE.replace("l = max(values)\n    return l", "top = max(values)\n    return top")
    (root / "calc/style.py").write_text(fixed_style)
    (root / "calc/legacy.py").write_text(LEGACY.replace("    warnings.warn(", "    # warnings.warn("))
    assert still_present(lint_check, root, config, []) == []
    assert still_present(warning_check, root, config, tests) == []
    assert still_present(None, root, config, []) == []
