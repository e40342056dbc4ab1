"""Small projects with real-world layouts, and `escalate fix` run on them through the simulated API.

Each project is a git repo built in the test; ``fix`` runs the CLI (``--json``) with a scripted
model whose edits are given as text editor ``str_replace`` calls, and returns the exit code,
the one JSON object and what the sim was sent.
"""

from __future__ import annotations

import json
from pathlib import Path

from samplerepo import config_yaml, git, make_repo

from escalate.cli.main import main


def project(
    tmp_path: Path,
    files: dict[str, str],
    *,
    timeout_s: float = 60,
    tiers: list[dict] | None = None,
    **validate,
) -> Path:
    """A committed repo holding files and an .escalate.yml (this session's pytest and ruff)."""
    return make_repo(tmp_path, {".escalate.yml": config_yaml(timeout_s, tiers, **validate), **files})


def script(*attempts: list[dict], model: str = "claude-haiku-4-5") -> dict:
    """One attempt per list of edits, in order, on one model; each attempt ends with DONE."""
    return {"models": {model: replies(*attempts)}}


def replies(*attempts: list[dict]) -> list[dict]:
    """A model's scripted replies: one attempt per list of edits, each ending with DONE."""
    replies = []
    for edits in attempts:  # the task, then each feedback message, opens an attempt
        opening = {"last_user_has_tool_result": False}
        replies.append({"when": opening, "content": [{"type": "text", "text": "On it."}, *edits]})
        replies.append({"when": {"last_user_has_tool_result": True}, "content": "Changed it. DONE"})
    return replies


def fix(capsys, root: Path, *targets: str) -> tuple[int, dict, str]:
    code = main(["fix", *targets, "--repo", str(root), "--json"])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1, out  # exactly one JSON object on stdout, whatever the outcome
    return code, json.loads(lines[0]), err


def commit_files(root: Path, result: dict) -> list[str]:
    """The files the fix commit changes against its parent."""
    return git(root, "show", "--format=", "--name-only", result["commit"]).split()


def commit_lines(root: Path, result: dict) -> list[str]:
    """The changed lines of the fix commit ('-old' / '+new'), without file headers."""
    diff = git(root, "show", "--format=", "-U0", result["commit"])
    return [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
