"""Pull requests for nightly fixes: one per fixed task, or one combined (``batch.combined_pr``).

Without GitHub (no ``GITHUB_REPOSITORY`` / ``GITHUB_TOKEN``) the branch is kept locally and
reported; that is the normal state on a laptop and in tests. With GitHub, the branch is
pushed with the token passed through the environment only (``publish.push_branch``) and a
draft pull request is opened or, when one is already open from that branch, updated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escalate.batch.discovery import github_configured
from escalate.llm.pricing import fmt_usd

if TYPE_CHECKING:
    from escalate.batch.collect import RequestResult
    from escalate.config import Config
    from escalate.task import Task

FENCE = "`" * 3
NO_GITHUB = "PR skipped: GitHub not configured (set GITHUB_REPOSITORY and GITHUB_TOKEN); branch kept locally"


def pr_body(task: Task, results: list[RequestResult], *, full_suite: bool = True) -> str:
    """What the reviewer reads: the task, who fixed it at what price, and how it was proven.

    Task text may come from an issue: it is neutralized (no pings, no hidden HTML) and fenced.
    """
    from escalate.github.render import MARKER, neutralize

    lines = [MARKER, "Nightly maintenance by escalate (Message Batches API, one-shot mode).", ""]
    lines += [f"**Task** ({task.kind}, from {task.source}): {neutralize(task.title)}", ""]
    if task.source.startswith("github#"):
        lines += [f"Closes #{task.source.removeprefix('github#')}.", ""]
    if task.text.strip():
        fenced = neutralize(task.text.strip()[:4000]).replace(FENCE, "'''")  # no breaking out of the fence
        lines += ["<details><summary>Details</summary>", "", FENCE, fenced, FENCE, "</details>", ""]
    lines += ["| task | tier (model) | batch cost | same call interactive |", "|---|---|---|---|"]
    for r in results:
        title = neutralize(r.title[:70]).replace("|", "/")
        lines.append(
            f"| {title} | {r.tier} ({r.model}) | {fmt_usd(r.cost_usd)} | {fmt_usd(r.interactive_usd)} |"
        )
    for r in results:
        if r.reproduction is not None:
            from escalate.records.rundir import evidence_lines
            from escalate.records.types import Outcome

            lines += ["", *evidence_lines(Outcome("fixed", reproduction=r.reproduction))]
    suite = " and the full suite has no new failures" if full_suite else ""
    lines += [
        "",
        "Validated like `escalate fix` against the base commit: ruff shows no new findings, the target "
        f"tests pass{suite}.",
    ]
    return "\n".join(lines) + "\n"


def open_pull(
    repo_root: Path, config: Config, branch: str | None, task: Task, *results: Any
) -> tuple[str | None, str]:
    """(pull request url, note): push `branch` and open its PR, or say why not."""
    if not branch:
        return None, "no branch to publish"
    if not github_configured():
        return None, NO_GITHUB
    from escalate.github.client import GithubRepo
    from escalate.github.render import push_branch

    repo = GithubRepo.from_env()
    push_branch(
        repo_root,
        branch,
        branch,
        token=os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN"),
        server_url=os.environ.get("GITHUB_SERVER_URL"),
        protected=config.editor.protected_paths,
    )
    title = f"escalate nightly: {task.title}"[:250]
    body = pr_body(task, list(results), full_suite=config.validate.full_suite)
    existing = repo.pull_for_head(branch)
    if existing is not None:
        return repo.update_pull(existing.number, title=title, body=body).url, ""
    pull = repo.open_pull(
        title=title, body=body, head=branch, base=repo.default_branch, draft=config.github.draft
    )
    return pull.url, ""


def combine(repo_root: Path, config: Config, fixed: list[Any], base_commit: str) -> None:
    """One PR for all of tonight's fixes: each fix's commit is replayed onto one branch from the base,
    the result is validated as a whole, and published. When the fixes conflict or fail together,
    each keeps its own (individually validated) branch and PR instead."""
    if not fixed:
        return
    from escalate.task import Task
    from escalate.validation.stages import run_baseline, validate
    from escalate.workspace.worktree import Workspace

    targets = sorted({t for r in fixed for t in r.target_tests})
    task = Task(
        kind="issue",
        title=f"{len(fixed)} nightly maintenance fix(es)",
        text="\n".join(f"- {r.title} ({r.branch})" for r in fixed),
        target_tests=targets,
        labels=[],
        source="nightly",
        slug="nightly-combined",
    )
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
