"""`escalate demo`: the fix flow on a sample repository with a simulated model; see docs/demo.md."""

from __future__ import annotations

import json
import sys

import click

from escalate.errors import EXIT_INTERNAL


@click.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, writable=True),
    metavar="DIR",
    help="Create the sample repository in DIR (new or empty) and keep it afterwards.",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout (like fix).")
@click.pass_context
def demo(ctx, keep, as_json):
    """Run escalate end to end on a sample bug, offline: the model is simulated, no key needed.

    A simulated Haiku's patch fails the tests, escalate escalates to a simulated Sonnet whose
    patch passes; git, ruff, pytest and the cost log are real. Exit codes as for `escalate fix`.
    """
    from pathlib import Path

    from escalate.cli.common import EXIT_BY_OUTCOME, interrupts_unwind
    from escalate.cli.demo_run import run_demo

    out = sys.stderr if as_json else sys.stdout  # stdout holds only the JSON object with --json
    with interrupts_unwind():
        result = run_demo(Path(keep) if keep else None, out=out)
    if as_json:
        click.echo(json.dumps(result.to_json()))
    ctx.exit(EXIT_BY_OUTCOME.get(result.outcome.outcome, EXIT_INTERNAL))
