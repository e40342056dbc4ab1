"""`escalate batch submit|collect|status`: nightly maintenance at half price; see docs/batch.md."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click

from escalate.errors import EXIT_FIXED, EXIT_NOT_FIXED


def _setup(repo: str | None):
    from escalate.cli.common import find_repo_root
    from escalate.config import load_config

    root = find_repo_root(Path(repo) if repo else Path.cwd())
    return root, load_config(root)


def _summary(markdown: str) -> None:
    from escalate.github.render import write_step_summary

    write_step_summary(markdown)  # a no-op outside GitHub Actions


@click.group()
def batch() -> None:
    """Nightly maintenance over the Message Batches API (50% price)."""


@batch.command()
@click.option("--repo", type=click.Path(file_okay=False), help="Repository root (default: the current one).")
@click.option(
    "--base", default="HEAD", show_default=True, help="Commit to scan and fix (the default branch)."
)
@click.option(
    "--dry-run", is_flag=True, help="Print what would be sent and its worst-case cost; send nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def submit(repo: str | None, base: str, dry_run: bool, as_json: bool) -> None:
    """Find maintenance tasks and send them as one Message Batch."""
    from escalate.batch.submit import submit as run_submit
    from escalate.llm.pricing import fmt_usd

    root, config = _setup(repo)
    out = run_submit(root, config, base=base, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(out.to_json(), indent=2))
        return
    for note in out.reconciled:
        click.echo(f"reconciled: {note}")
    for p in out.planned:
        click.echo(f"  {p.custom_id:<50} {p.tier:<7} {p.model:<20} worst case {fmt_usd(p.worst_case)}")
    for slug, why in out.skipped:
        click.echo(f"  skipped {slug}: {why}")
    worst = fmt_usd(out.worst_case)
    if not out.planned:
        click.echo(f"Nothing to do at {out.base_commit[:10]}: no batch sent.")
    elif dry_run:
        click.echo(
            f"Dry run: {len(out.planned)} request(s) would be sent; worst case {worst} at batch prices."
        )
    else:
        click.echo(
            f"Submitted {out.api_batch_id} ({out.local_id}): {len(out.planned)} request(s), "
            f"worst case {worst}."
        )
        lines = ["## escalate nightly: submitted", "", f"Batch `{out.api_batch_id}`, worst case {worst}.", ""]
        lines += [f"- {p.task.title} ({p.tier}, {p.model})" for p in out.planned]
        _summary("\n".join(lines))


@batch.command()
@click.option("--repo", type=click.Path(file_okay=False), help="Repository root (default: the current one).")
@click.option("--wait", is_flag=True, help="Wait for in-flight batches to end.")
@click.option("--timeout", type=float, help="With --wait: give up after this many seconds.")
@click.option(
    "--poll", type=float, default=30.0, show_default=True, help="With --wait: seconds between checks."
)
@click.option("--escalate-now", is_flag=True, help="Run failed tasks interactively on the next tier at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def collect(
    repo: str | None, wait: bool, timeout: float | None, poll: float, escalate_now: bool, as_json: bool
) -> None:
    """Apply and validate the results of ended batches; open PRs; re-queue the rest."""
    from escalate.batch.collect import collect as run_collect
    from escalate.llm.pricing import fmt_usd

    if timeout is not None and not wait:
        raise click.UsageError("--timeout only makes sense with --wait.")
    root, config = _setup(repo)
    out = run_collect(root, config, wait=wait, timeout=timeout, poll_seconds=poll, escalate_now=escalate_now)
    _summary(out.summary_markdown())
    if as_json:
        click.echo(json.dumps(out.to_json(), indent=2))
    else:
        for note in out.reconciled:
            click.echo(f"reconciled: {note}")
        for r in out.results:
            where = (
                r.pull_request or r.branch or (f"-> {r.next_tier} next batch" if r.next_tier else r.detail)
            )
            click.echo(f"  {r.custom_id:<50} {r.tier:<7} {r.state:<12} {fmt_usd(r.cost_usd):>8}  {where}")
        for b in out.in_progress:
            click.echo(f"  {b}: still in progress")
        if out.results:
            click.echo(
                f"Cost {fmt_usd(out.cost)} at batch prices (interactive: {fmt_usd(out.interactive_cost)})."
            )
        elif not out.in_progress:
            click.echo("Nothing to collect.")
    # Exit 1 while batches remain in flight after --wait: the job should notice.
    click.get_current_context().exit(EXIT_NOT_FIXED if wait and out.in_progress else EXIT_FIXED)


@batch.command()
@click.option("--repo", type=click.Path(file_okay=False), help="Repository root (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--offline", is_flag=True, help="Ledger only: do not ask the API for live counts.")
def status(repo: str | None, as_json: bool, offline: bool) -> None:
    """Batches in flight, tasks waiting for the next batch, and the worst case of the queue."""
    from escalate.batch.submit import make_provider
    from escalate.batch.submit import status as run_status
    from escalate.llm.client import api_key
    from escalate.llm.pricing import fmt_usd

    root, config = _setup(repo)
    provider = make_provider() if api_key() and not offline else None
    data = run_status(root, config, provider=provider)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"In flight: {len(data['in_flight'])} batch(es)")
    for b in data["in_flight"]:
        counts = ", ".join(f"{k} {v}" for k, v in (b["counts"] or {}).items() if v) or "counts unknown"
        click.echo(
            f"  {b['batch']} {b['api_batch_id'] or '(unconfirmed)'} {b['processing_status'] or b['status']}: "
            f"{b['requests']} request(s), {counts}, {b['age_hours']:.1f} h old"
        )
    click.echo(f"Waiting for the next batch: {len(data['waiting'])} task(s)")
    for w in data["waiting"]:
        click.echo(f"  {w['slug']} on {w['tier']}: {w['reason'] or ''}")
    worst = fmt_usd(Decimal(str(data["queued_worst_case_usd"])))
    click.echo(f"Worst case of the queue: {worst} at batch prices")
    for h in data["held"]:
        click.echo(f"  held ({h['state']}): {h['slug']} {h['detail'] or ''}")
