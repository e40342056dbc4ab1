"""`escalate explain`: the routing decision for a task, without fixing anything; see docs/routing.md.

It calls the same ``router.route`` as ``escalate fix`` with the same inputs (the baseline's
tracebacks, the first request sized by ``count_tokens``, the ledger), so its class, start tier,
effort, thinking and reasons are the ones fix records. No model is called except the optional
classifier (``router.classifier_call``), whose cost is shown.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from escalate.cli.common import find_repo_root, task_options, task_tests

if TYPE_CHECKING:
    from collections.abc import Callable

    from escalate.config import Config
    from escalate.llm.catalog import Catalog
    from escalate.llm.client import CallRecord
    from escalate.llm.protocols import ModelClient
    from escalate.records.ledger import Ledger
    from escalate.records.types import Decision
    from escalate.routing.route import Route
    from escalate.task import Task


@click.command()
@task_options
@click.option(
    "--no-baseline",
    is_flag=True,
    help="Do not run the test suite at base (no tracebacks: fewer signals, a smaller context estimate).",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
def explain(nodeids, tests, issue_file, issue_text, repo, no_baseline, as_json):
    """Show how `escalate fix` would route a task: class, signals, start tier, effort,
    thinking, context size and the ledger's evidence, with every reason.

    By default it runs the test suite once at the base commit, in a temporary worktree, to
    read the failing tests' tracebacks (as fix does); --no-baseline skips that.
    """
    from escalate.config import load_config
    from escalate.task import Task

    tests = task_tests(
        nodeids,
        tests,
        issue_file,
        issue_text,
        missing="Say what to explain: --test NODEID, --issue-file FILE or --issue-text TEXT.",
    )
    root = find_repo_root(Path(repo))
    config = load_config(root)
    task = Task.from_cli(tests, issue_file, issue_text)
    report = explain_task(task, root, config, baseline=not no_baseline, status=_status(as_json))
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(render(report))


def _status(quiet: bool) -> Callable[[str], None]:
    return (lambda text: None) if quiet else (lambda text: click.echo(text, err=True))


def explain_task(
    task: Task,
    root: Path,
    config: Config,
    *,
    baseline: bool = True,
    status: Callable[[str], None] = lambda text: None,
) -> dict:
    """The routing report for `task` as a JSON-ready dict (what ``explain --json`` prints)."""
    from escalate.llm.catalog import Catalog
    from escalate.records.ledger import Ledger
    from escalate.workspace.worktree import ignore_log_dir

    ignore_log_dir(root)  # the ledger and the models cache live in .escalate/, kept out of git status
    catalog = Catalog.load(root, config)
    calls: list[CallRecord] = []
    llm = _client(catalog, config, calls)
    ledger = Ledger.for_repo(root, config)
    try:
        if baseline:
            from escalate.workspace.worktree import Workspace

            status(
                "explain: running the test suite at the base commit in a temporary worktree to read the "
                "failing tests' tracebacks (--no-baseline skips it)"
            )
            with Workspace.create(root, task.slug) as ws:
                report = _route(
                    task,
                    ws.path,
                    config,
                    catalog,
                    ledger,
                    llm,
                    calls,
                    run_baseline=True,
                    repo=str(root.resolve()),
                )
        else:
            report = _route(
                task, root, config, catalog, ledger, llm, calls, run_baseline=False, repo=str(root.resolve())
            )
    finally:
        if ledger is not None:
            ledger.close()
    report["catalog"] = catalog.describe()
    return report


def _client(catalog: Catalog, config: Config, calls: list[CallRecord]) -> ModelClient | None:
    """A model client when a key is set (count_tokens, the classifier call); None otherwise."""
    from escalate.llm.client import MeteredClient, api_key

    if not api_key():
        return None
    from escalate.llm.pricing import Budget, PriceTable

    budget = Budget(Decimal(str(config.budget.max_cost_usd)))
    return MeteredClient(
        catalog, PriceTable.load(config.prices), budget, calls.append, run="explain", max_retries=1
    )


def _route(
    task: Task,
    path: Path,
    config: Config,
    catalog: Catalog,
    ledger: Ledger | None,
    llm: ModelClient | None,
    calls: list[CallRecord],
    *,
    run_baseline: bool,
    repo: str | None = None,
) -> dict:
    from escalate.ladder.setup import choose_targets, plan_route
    from escalate.routing.testability import testability
    from escalate.task import named_tests

    base = None
    failing: list[str] = []
    if run_baseline:
        from escalate.validation.stages import run_baseline as measure

        base = measure(path, config.validate, list(task.target_tests))
        failing = sorted(base.failing_tests)
        # Which tests must pass, as the runner picks them (the same function): the named targets failing
        # at base; for an issue, the failing tests its text names (else a reproduction test comes first).
        chosen = choose_targets(task, base)
        targets, reproduces = chosen.tests, chosen.reproduces
    else:
        targets, reproduces = list(task.target_tests), None
    _, plan = plan_route(task, path, base, targets, config, catalog, ledger, llm, repo=repo)
    extra = _preset_and_roles(config, catalog, plan)
    spent = sum((c.cost_usd for c in calls), Decimal(0))
    testable = (
        testability(task, config.roles.test_writer.enabled) if task.kind == "issue" and not targets else None
    )
    proof = {"reproduce": testable.reproduce, "reason": testable.reason} if testable else None
    named = named_tests(f"{task.title}\n{task.text}") if task.kind == "issue" else []
    if proof is not None and not run_baseline and named:  # the baseline decides: a failing one is the target
        proof["reason"] = (
            f"the issue names {', '.join(named[:3])}: the targets if they fail at base (--no-baseline: not "
            f"known); else {proof['reason']}"
        )
    if testable is not None and testable.reproduce:  # who writes it, as `fix` would choose
        from escalate.ladder.reproduce import writer_tiers
        from escalate.roles.plan import describe_settings

        tiers, notes = writer_tiers(config, catalog, plan.tiers)
        proof["writer"] = [
            {"tier": t.name, "model": t.model.id, "settings": describe_settings(t)} for t in tiers
        ]
        proof["notes"] = notes
    return {
        "task": {"kind": task.kind, "title": task.title, "labels": list(task.labels), "targets": targets},
        "reproduction": proof,
        "baseline": {
            "ran": run_baseline,
            "failing_tests": failing,
            "reproduces": reproduces,
            "note": None if run_baseline else "--no-baseline: no tracebacks read",
        },
        "route": plan.to_json(),
        "roles": [d.to_json() for d in extra],
        "calls": [c.to_json() for c in calls],
        "cost_usd": round(float(spent), 6),
    }


def _preset_and_roles(config: Config, catalog: Catalog, plan: Route) -> list[Decision]:
    """The preset's reshaping of the ladder and the roles' choices, as the runner makes them."""
    from escalate.ladder.presets import apply_preset
    from escalate.roles.plan import describe

    return [*apply_preset(plan, config), *describe(config, catalog, plan)]


def _evidence(hist: dict) -> list[str]:
    """The numbers behind the start tier: shrunk rates per tier, measured costs, the break-evens."""

    def rate(x: dict) -> str:
        return f"{x['successes']}/{x['trials']} -> {x['mean']:.0%} (prior {x['prior']:.0%})"

    def money(x: float | None) -> str:
        return "unmeasured" if x is None else f"${x:.4f}"

    lines = ["Ledger evidence (this repository and class, shrunk toward the class and the ledger):"]
    for t in hist["tiers"]:
        lines.append(
            f"  {t['tier']}: as start {rate(t['start'])}; after a lower tier failed {rate(t['after_fail'])}; "
            f"a success {money(t['cost_success_usd'])}, a failure {money(t['cost_fail_usd'])}, "
            f"a visit {money(t['cost_visit_usd'])} ({t['visits']} visits)"
        )
    for step in hist.get("steps", []):
        even = "unmeasured" if step["breakeven"] is None else f"{step['breakeven']:.0%}"
        verdict = "move up" if step["move_up"] else "start here"
        lines.append(
            f"  {step['tier']}: P(fail) {step['p_fail']:.0%} (at least {step['p_fail_low']:.0%}) "
            f"vs break-even {even}: {verdict}"
        )
    if hist.get("explored"):
        lines.append("  this task is in router.explore_share: one tier below the estimate")
    return lines


def _fmt_thinking(thinking: dict | None) -> str:
    if not thinking:
        return "off"
    if thinking.get("type") == "enabled":
        return f"enabled, {thinking['budget_tokens']} tokens"
    return str(thinking.get("type"))


def render(report: dict) -> str:
    """The human-readable report."""
    r = report["route"]
    task, base = report["task"], report["baseline"]
    lines = [
        f"Task: {task['title']} ({task['kind']}"
        + (f", labels {', '.join(task['labels'])})" if task["labels"] else ")")
    ]
    if base["ran"]:
        lines.append(
            "Baseline: the suite ran at the base commit; failing: "
            + (", ".join(base["failing_tests"]) or "none")
        )
        if base["reproduces"] is False:
            lines.append("  the target tests pass at base: `escalate fix` would stop (cannot reproduce)")
    else:
        lines.append(f"Baseline: not run ({base['note']})")
    proof = report.get("reproduction")
    if proof is not None:
        how = "a reproduction test first, then the fix" if proof["reproduce"] else "judged without a test"
        lines.append(f"Proof: {how} ({proof['reason']})")
        writers = proof.get("writer") or []
        if writers:
            then = "".join(f", then {w['tier']} ({w['model']})" for w in writers[1:])
            lines.append(f"  test writer: {writers[0]['tier']} ({writers[0]['settings']}){then}")
            lines += [f"  {note}" for note in proof.get("notes") or []]
    lines.append(f"Models: {report.get('catalog', '')}")
    decisions = r["decisions"]
    ctx = next((d for d in decisions if d["kind"] == "context"), None)
    lines.append(f"Context: {ctx['reason'] if ctx else 'not measured'}")
    klass = r["class"] or {}
    lines.append(f"Class: {klass.get('complexity')}/{klass.get('error_cost')}")
    lines += [f"  - {why}" for why in klass.get("reasons", [])]
    sig = (klass.get("signals") or {}) if klass else {}
    if sig:
        lines.append(
            f"Signals: kind {sig.get('kind')}; labels {', '.join(sig.get('labels') or []) or 'none'}; "
            f"traceback modules {', '.join(sig.get('files') or []) or 'none'}; "
            f"target tests {sig.get('target_tests')}; covered {sig.get('covered')}; "
            f"context tokens {sig.get('context_tokens')}"
        )
    for d in decisions:
        if d["kind"] == "classifier":
            lines.append(f"Classifier: {d['choice']}: {d['reason']}")
    start = next(d for d in decisions if d["kind"] == "start_tier")
    lines += [f"Start tier: {start['choice']}", f"  because {start['reason']}"]
    hist = r["history"]
    if hist and hist["tiers"]:
        lines += _evidence(hist)
    lines.append("Ladder (effort and thinking as sent):")
    width = max(len(t["name"]) for t in r["tiers"])
    mwidth = max(len(t["model"]) for t in r["tiers"])
    for t in r["tiers"]:
        mark = "->" if t["name"] == r["start"] else "  "
        effort = t["effort"] or "model default"
        lines.append(
            f" {mark} {t['name']:<{width}}  {t['model']:<{mwidth}}  effort {effort:<13}  "
            f"thinking {_fmt_thinking(t['thinking']):<20}  max_tokens {t['max_tokens']}"
        )
    for d in decisions:
        if d["kind"] in ("skip", "model", "max_tokens"):
            lines.append(f"  {d['kind']} {d['choice']}: {d['reason']}")
    if report["roles"]:
        lines.append("Preset and roles:")
        lines += [f"  {d['choice']}: {d['reason']}" for d in report["roles"]]
    lines.append("Reasons per tier:")
    lines += [
        f"  {d['kind']} {d['choice']}: {d['reason']}"
        for d in decisions
        if d["kind"] in ("effort", "thinking")
    ]
    if report["calls"]:
        for c in report["calls"]:
            lines.append(f"Model calls: {c['role']} on {c['model']}, ${c['cost_usd']:.6f}")
    else:
        lines.append("Model calls: none")
    return "\n".join(lines)
