"""ruff, run only to read findings: it never fixes or formats, whatever the project's config says.

``--no-fix`` wins over ``[tool.ruff] fix = true`` (which would otherwise rewrite the tree
under test, and put ruff's edits into the fix commit), ``--no-cache`` keeps ``.ruff_cache``
out of the tree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.workspace.process import CommandResult, run_command
from escalate.workspace.sandbox import isolation_for

if TYPE_CHECKING:
    from escalate.config import ValidateConfig

LintKey = tuple[str, str, str]  # (path, code, message): no line numbers, so moved code is not "new"


def ruff_findings(
    root: Path, cfg: ValidateConfig, paths: list[str]
) -> tuple[CommandResult, list[dict] | None]:
    """ruff's findings on paths (None when ruff failed to run or answer)."""
    # --ignore-noqa: a suppression comment the patch adds (per line or per file) hides nothing;
    # the baseline counts the base's own suppressed findings too, so only new ones differ.
    flags = ["--no-fix", "--output-format=json", "--no-cache", "--force-exclude", "--ignore-noqa"]
    argv = [*cfg.ruff_command, *flags, *paths]
    run = run_command(argv, root, timeout_s=cfg.timeout_s, isolation=isolation_for(cfg))
    if run.timed_out or run.returncode not in (0, 1):
        return run, None
    try:
        return run, json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return run, None


def lint_key(finding: dict, root: Path) -> LintKey:
    path = os.path.relpath(os.path.realpath(finding.get("filename", "")), os.path.realpath(root))
    return (path.replace(os.sep, "/"), finding.get("code") or "syntax-error", finding.get("message", ""))


def lint_line(finding: dict, root: Path) -> str:
    path, code, message = lint_key(finding, root)
    loc = finding.get("location") or {}
    return f"{path}:{loc.get('row', '?')}:{loc.get('column', '?')}: {code} {message}"
