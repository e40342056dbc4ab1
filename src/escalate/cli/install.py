"""`escalate install`: install the project into its own Python environment, its build code sandboxed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from escalate.errors import EXIT_NOT_FIXED


@click.command()
@click.option(
    "--repo", type=click.Path(file_okay=False, path_type=Path), default=".", help="Repository root."
)
@click.option(
    "--command",
    "command",
    default=None,
    help="Shell command that installs the project. Default: `pip install -e .` when there is a "
    "pyproject.toml or setup.py, `-r requirements.txt` when that exists, then pytest.",
)
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=1800.0, show_default=True,
              help="Seconds one install command may take.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the outcome.")
def install(repo: Path, command: str | None, timeout_s: float, as_json: bool) -> None:
    """Install the project in the sandbox: network on, secrets and the runner's files out of reach,
    writable only the checkout, the project's environment and pip's cache (docs/security.md)."""
    from escalate.cli.common import find_repo_root
    from escalate.config import load_config
    from escalate.validation.tools import find_python
    from escalate.workspace.install import plan_install, run_install
    from escalate.workspace.sandbox import isolation_for

    root = find_repo_root(repo)
    cfg = load_config(root)
    isolation = isolation_for(cfg.validate)
    python = find_python(root, cfg.validate.python)
    if not isolation.sandboxed:
        why = isolation.why_not
        click.echo(f"escalate: WARNING: the project's install runs WITHOUT a sandbox: {why}", err=True)
    plan = plan_install(root, python.path, command, sandboxed=isolation.sandboxed)
    click.echo(f"escalate: installing with {python.describe()}; writable: "
               f"{', '.join(str(p) for p in plan.writable)}", err=True)  # fmt: skip
    result = run_install(plan, isolation, timeout_s=timeout_s)
    for run in result.runs:
        if not run.ok or not as_json:
            click.echo(run.describe(), err=True)
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        click.echo("installed" if result.ok else "install failed", err=not result.ok)
    if not result.ok:
        sys.exit(EXIT_NOT_FIXED)
