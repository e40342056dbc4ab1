"""What the commands share: the task flags, the exit code per outcome, signals that unwind."""

from __future__ import annotations

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
