"""`escalate fix`: fix a failing test or a problem in words, escalating tiers; see docs/fix.md."""

from __future__ import annotations

import json
import signal
from contextlib import contextmanager
from pathlib import Path

import click

from escalate.errors import EXIT_FIXED, EXIT_INTERNAL, EXIT_NOT_FIXED, EscalateError

EXIT_BY_OUTCOME = {
    "fixed": EXIT_FIXED,
    "needs_human": EXIT_NOT_FIXED,
    "budget_exceeded": EXIT_NOT_FIXED,
    "cannot_reproduce": EXIT_NOT_FIXED,
    "error": EXIT_INTERNAL,
}


def find_repo_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding ``.git`` (a dir, or a file in worktrees)."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    raise EscalateError(
        f"{start} is not inside a git repository; run escalate in a git checkout or pass --repo."
    )


@contextmanager
def interrupts_unwind():
    """SIGINT and SIGTERM raise KeyboardInterrupt, so every ``finally:`` runs (worktree removed,
    log closed). Explicit for SIGINT too: a shell's background jobs start with SIGINT ignored."""

    def _raise(signum, frame):
        # Only the first signal interrupts: a second Ctrl-C must not cut the cleanup short
        # (a half-removed worktree). `escalate`'s stale-worktree cleanup covers a SIGKILL.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, _raise)
        except ValueError:  # not the main thread (embedded use): leave signals alone
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def task_options(command):
    """The arguments naming a task and its repository, shared by `fix` and `explain`
    (the same stack as writing the decorators above the command, in this order)."""
    command = click.option(
        "--repo",
        type=click.Path(exists=True, file_okay=False),
        default=".",
        show_default=True,
        help="The git repository (any directory inside it).",
    )(command)
    command = click.option("--issue-text", metavar="TEXT", help="A problem in words.")(command)
    command = click.option(
        "--issue-file",
        type=click.Path(exists=True, dir_okay=False),
        help="A problem in words, from a file.",
    )(command)
    command = click.option(
        "--test", "tests", multiple=True, metavar="NODEID", help="A failing pytest node id (repeatable)."
    )(command)
    return click.argument("nodeids", nargs=-1, metavar="[NODEID]...")(command)


def task_tests(
    nodeids: tuple[str, ...],
    tests: tuple[str, ...],
    issue_file: str | None,
    issue_text: str | None,
    *,
    missing: str,
) -> tuple[str, ...]:
    """The target node ids (positional ones are the same as --test), once each; a UsageError
    (``missing`` says what to pass) unless the flags name exactly one task."""
    tests = tuple(dict.fromkeys((*tests, *nodeids)))
    if not tests and issue_file is None and issue_text is None:
        raise click.UsageError(missing)
    if issue_file is not None and issue_text is not None:
        raise click.UsageError("Use either --issue-file or --issue-text, not both.")
    return tests


def make_task(tests: tuple[str, ...], issue_file: str | None, issue_text: str | None):
    """The Task for the flags; issue text is untrusted and sanitized by the task module."""
    from escalate.task import Task

    if issue_file is not None:
        task = Task.from_issue_file(Path(issue_file))
    elif issue_text is not None:
        task = Task.from_issue_text(issue_text)
    else:
        return Task.from_tests(tests)
    task.target_tests = list(tests)  # --test with an issue: those tests must pass too
    return task


@click.command()
@task_options
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option(
    "--max-cost", type=float, metavar="USD", help="Budget for this task [default: budget.max_cost_usd]."
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
    task = make_task(tests, issue_file, issue_text)
    progress = Progress(quiet=quiet)
    with interrupts_unwind():
        outcome = run_task(task, root, config, keep=keep, progress=progress)
    if as_json:
        click.echo(json.dumps(outcome.to_json()))
    if not quiet:
        _explain(outcome)
    ctx.exit(EXIT_BY_OUTCOME.get(outcome.outcome, EXIT_INTERNAL))


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
    echo(f"Cost log and summary: {outcome.log_dir}")
