"""Pull requests for nightly fixes: one per fixed task, or one combined (``batch.combined_pr``).

Without GitHub (no ``GITHUB_REPOSITORY`` / ``GITHUB_TOKEN``) the branch is kept locally and
reported; that is the normal state on a laptop and in tests. With GitHub, the branch is
pushed with the token passed through the environment only (``github.render.push_branch``) and a
draft pull request is opened or, when one is already open from that branch, updated. The body is
``github.render.nightly_pr_body``: one renderer for every pull request escalate writes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.batch.discovery import github_configured
from escalate.github.client import GithubRepo
from escalate.github.render import nightly_pr_body, nightly_pr_title, push_with_env_token, stages
from escalate.task import Task
from escalate.validation.stages import run_baseline, validate
from escalate.workspace.worktree import Workspace

if TYPE_CHECKING:
    from escalate.batch.collect import RequestResult
    from escalate.config import Config

NO_GITHUB = "PR skipped: GitHub not configured (set GITHUB_REPOSITORY and GITHUB_TOKEN); branch kept locally"


def open_pull(
    repo_root: Path, config: Config, branch: str | None, task: Task, *fixes: RequestResult
) -> tuple[str | None, str]:
    """(pull request url, note): push `branch` and open or update its PR, or say why not."""
    if not branch:
        return None, "no branch to publish"
    if not github_configured():
        return None, NO_GITHUB
    repo = GithubRepo.from_env()
    push_with_env_token(repo_root, branch, branch, os.environ, config.editor.protected_paths)
    body = nightly_pr_body(task, list(fixes), stages(config.validate))
    pull = repo.open_or_update_pull(
        branch, title=nightly_pr_title(task), body=body, draft=config.github.draft
    )
    return pull.url, ""


def combine(repo_root: Path, config: Config, fixed: list[RequestResult], base_commit: str) -> None:
    """One PR for all of tonight's fixes: each fix's commit is replayed onto one branch from the base,
    the result is validated as a whole, and published. When the fixes conflict or fail together,
    each keeps its own (individually validated) branch and PR instead."""
    if not fixed:
        return
    targets = sorted({t for r in fixed for t in r.target_tests})
    task = Task.from_nightly_fixes([(r.title, r.branch) for r in fixed], targets)
    why = ""
    with Workspace.create(repo_root, f"batch-combined-{base_commit[:10]}", base_commit) as ws:
        baseline = run_baseline(ws.path, config.validate, targets)
        if not all(ws.cherry_pick(r.branch) for r in fixed):
            why = "the fixes conflict with each other"
        else:
            verdict = validate(ws.path, ws.changed_files(), baseline, targets, config.validate)
            why = "" if verdict.passed else f"together they fail {verdict.stage}: {verdict.reason}"
        if why:
            ws.committed = False  # drop the half-made combined branch
        else:
            branch = ws.branch
    if why:
        for r in fixed:
            url, note = open_pull(repo_root, config, r.branch, task, r)
            r.pull_request = url
            r.detail = "; ".join(x for x in (r.detail, f"no combined PR: {why}", note) if x)
        return
    url, note = open_pull(repo_root, config, branch, task, *fixed)
    for r in fixed:
        r.pull_request = url
        r.detail = "; ".join(x for x in (r.detail, f"in combined branch {branch}", note) if x)
