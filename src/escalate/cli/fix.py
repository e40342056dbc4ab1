"""`escalate fix`: fix a failing test or a problem in words, escalating tiers; see docs/fix.md."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from escalate.cli.common import EXIT_BY_OUTCOME, find_repo_root, interrupts_unwind, task_options, task_tests
from escalate.errors import EXIT_INTERNAL


@click.command()
@task_options
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0, min_open=True, max=1e9),  # inf and nan are mistakes, not budgets
    callback=lambda ctx, param, v: _finite(v),
    metavar="USD",
    help="Budget for this task [default: budget.max_cost_usd].",
)
@click.option(
    "--keep", is_flag=True, help="Keep the branch (with the last attempt committed) even when not fixed."
)
@click.option("--start-tier", metavar="NAME", help="Start on this tier instead of the first.")
@click.option(
    "--preset",
    type=click.Choice(["ladder", "plan-execute", "single"]),
    help="Phases: ladder (roles around the climbing tiers), plan-execute (a planner, then the middle "
    "tier), single (one model, no roles) [default: roles.preset]. See docs/roles.md.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@click.option("--issue", "issue_number", type=int, metavar="N", help="A GitHub issue: fix it and open a PR.")
@click.option("--repo-slug", metavar="OWNER/NAME", help="GitHub repository [default: $GITHUB_REPOSITORY].")
@click.option(
    "--event",
    metavar="PATH",
    is_flag=False,
    flag_value="",
    help="A GitHub webhook payload (issues, issue_comment, workflow_run) [default: $GITHUB_EVENT_PATH].",
)
@click.pass_context
def fix(
    ctx,
    nodeids,
    tests,
    issue_file,
    issue_text,
    repo,
    as_json,
    max_cost,
    keep,
    start_tier,
    quiet,
    issue_number=None,
    repo_slug=None,
    event=None,
    preset=None,
):
    """Fix a failing test (--test) or a described problem (--issue-file/--issue-text).

    Asks the cheapest tier first, proves each patch with ruff and your tests, escalates on
    failure, and ends with a committed branch escalate/<task> or a needs-human report.
    Exit codes: 0 fixed, 1 not fixed, 2 usage or config error, 3 error.
    """
    from escalate.config import load_config
    from escalate.ladder.run import run_task
    from escalate.llm.client import require_api_key
    from escalate.records.console import Progress
    from escalate.task import Task

    if issue_number is not None or event is not None:  # GitHub: see docs/github.md
        from escalate.github.run import run_command

        overrides = {"budget": {"max_cost_usd": max_cost}} if max_cost is not None else {}
        if start_tier:
            overrides["start_tier"] = start_tier
        if preset:
            overrides["roles"] = {"preset": preset}
        with interrupts_unwind():
            code = run_command(
                find_repo_root(Path(repo)),
                issue=issue_number,
                event=event,
                slug=repo_slug,
                overrides=overrides,
                quiet=quiet,
                as_json=as_json,
            )
        ctx.exit(code)
    tests = task_tests(
        nodeids,
        tests,
        issue_file,
        issue_text,
        missing="Say what to fix: --test NODEID (repeatable), --issue-file FILE, --issue-text TEXT, "
        "--issue N (GitHub) or --event PATH (a GitHub webhook payload).",
    )
    require_api_key()  # before any work
    root = find_repo_root(Path(repo))
    overrides: dict = {}
    if start_tier:
        overrides["start_tier"] = start_tier
    if preset:
        overrides["roles"] = {"preset": preset}
    if max_cost is not None:
        overrides["budget"] = {"max_cost_usd": max_cost}
    config = load_config(root, overrides or None)
    task = Task.from_cli(tests, issue_file, issue_text)
    progress = Progress(quiet=quiet)
    with interrupts_unwind():
        outcome = run_task(task, root, config, keep=keep, progress=progress)
    if as_json:
        click.echo(json.dumps(outcome.to_json()))
    if not quiet:
        _explain(outcome)
    ctx.exit(EXIT_BY_OUTCOME.get(outcome.outcome, EXIT_INTERNAL))


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):  # nan slips through FloatRange's comparisons
        raise click.BadParameter(f"{value} is not a number of dollars.")
    return value


def _explain(outcome) -> None:
    echo = lambda text="": click.echo(text, err=True)  # noqa: E731
    echo()
    if outcome.outcome == "fixed":
        echo(f"Fixed on branch {outcome.branch} (commit {outcome.commit[:12]}). To look at it and merge it:")
        echo(f"  git diff HEAD...{outcome.branch}")
        echo(f"  git merge {outcome.branch}")
    else:
        echo(f"Not fixed: {outcome.outcome}. {outcome.explanation}")
        if outcome.branch:
            echo(f"The last attempt is kept on branch {outcome.branch}.")
    if outcome.sandbox_note():
        echo(outcome.sandbox_note().removeprefix("> "))
    echo(f"Cost log and summary: {outcome.log_dir}")
