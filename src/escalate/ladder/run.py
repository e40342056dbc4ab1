"""The ladder for one task: workspace, baseline, route, tiers and attempts -> Outcome.

The run has three steps, each in its module: ``ladder.prepare`` (baseline, targets, route, crew),
``ladder.climb`` (tier after tier) and ``ladder.attempt`` (one model attempt and its verdict); the
run's state lives on ``ladder.state.RunState``. Every way it can end is an exception that carries
its outcome (``ladder.stops``); ``run_task`` catches the base class, and in ``finally:`` closes the
run log with that outcome and removes the worktree on every exit path (fixed, not fixed, budget,
API error, Ctrl-C, a bug); the branch survives only when fixed (or ``keep``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.ladder import preflight
from escalate.ladder.climb import climb
from escalate.ladder.prepare import prepare
from escalate.ladder.state import RunState
from escalate.ladder.stops import Stop, halted_by
from escalate.llm.client import MeteredClient, require_api_key
from escalate.llm.pricing import Budget, PriceTable, fmt_usd
from escalate.records.console import Progress
from escalate.records.rundir import RunLog, cost_by_role, new_run_id
from escalate.records.types import Outcome
from escalate.roles.plan import IMPLEMENTER

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.llm.catalog import Catalog
    from escalate.llm.protocols import ModelClient, Provider
    from escalate.task import Task
    from escalate.workspace import WorkingTree


def run_task(
    task: Task,
    repo_root: Path,
    config: Config,
    *,
    keep: bool = False,
    progress: Progress | None = None,
    max_cost: float | Decimal | None = None,
    catalog: Catalog | Callable[[], Catalog] | None = None,
    provider: Provider | None = None,
) -> Outcome:
    """Fix one task on a ladder of tiers; see the module docstring. ``provider`` is the model API
    (``llm.protocols.Provider``); by default Anthropic's, which reads its environment."""
    from escalate.llm.catalog import Catalog
    from escalate.workspace.worktree import Workspace

    if provider is None:
        require_api_key()  # before any work
        from escalate.llm.providers import preload

        preload()  # the SDK's import, hidden behind the worktree's set-up and the baseline's test runs
    repo_root = Path(repo_root).resolve()
    run = _start(task, repo_root, config, progress or Progress(quiet=True), max_cost)
    config, log, outcome, progress = run.config, run.log, run.outcome, run.progress
    ws = None
    lock = preflight.TaskLock(repo_root, task.slug)
    try:
        lock.acquire()  # a second run of this task stops here (exit 2), before any work
        from escalate.workspace.sandbox import isolation_for

        isolation = isolation_for(config.validate)  # a sandbox asked for and missing stops here
        outcome.sandbox, outcome.sandbox_warning = isolation.sandbox, isolation.why_not
        if isolation.sandboxed:  # the sandbox's binds need the interpreter's paths: asked during the set-up
            from escalate.workspace.toolpaths import prefetch

            prefetch(config.validate.test_command)
        run.open_ledger(repo_root)
        ws = Workspace.create(repo_root, task.slug)
        run.base_commit = ws.base_commit
        outcome.branch = ws.branch

        def connect(catalog: Catalog) -> ModelClient:  # after the baseline: no SDK import for nothing
            return MeteredClient(
                catalog,
                log.prices,
                run.budget,
                run.on_call,
                run=log.path.name,
                max_retries=config.session.max_retries,
                provider=provider,
                decide=run.decide,
            )

        climb(run, prepare(run, ws, connect, catalog or (lambda: Catalog.load(repo_root, config))))
    except Stop as stop:
        run.stop(stop)
    except BaseException as exc:  # budget and API errors are outcomes; the rest is raised on
        halted = halted_by(exc)
        run.stop(halted)
        if halted.reraise:
            raise
    finally:
        try:
            _close(ws, task, outcome, keep, log, progress)
        finally:
            try:
                run.close_ledger()
            finally:
                lock.release()
    return outcome


def _start(
    task: Task, repo_root: Path, config: Config, progress: Progress, max_cost: float | Decimal | None
) -> RunState:
    """Checks before any work (prices, preflight), the budget and the run log; the run's state."""
    from escalate.llm.catalog import Catalog
    from escalate.workspace.worktree import ignore_log_dir

    prices = PriceTable.load(config.prices)
    # The static table answers config mistakes before any work; the Models API (when a key is
    # set) is asked only once the baseline shows there is something to fix.
    static = Catalog.static()
    for i, t in enumerate(config.tiers):
        if t.model is not None and t.model in static:
            prices.price(static.resolve(t, i).id)
    pre = preflight.check(config, repo_root, prices, static)
    config = pre.config
    top_model = config.tiers[-1].model or static.resolve(config.tiers[-1], len(config.tiers) - 1).id
    limit = Decimal(str(max_cost)) if max_cost is not None else Decimal(str(config.budget.max_cost_usd))
    ignore_log_dir(repo_root)
    log = RunLog(repo_root / config.log_dir / new_run_id(task.slug), prices, top_model, task.title)
    run = RunState(task, config, log, progress, Budget(limit), Outcome("error", log_dir=str(log.path)))
    run.preflight(pre)
    return run


def _close(
    ws: WorkingTree | None, task: Task, outcome: Outcome, keep: bool, log: RunLog, progress: Progress
) -> None:
    """Every exit path: keep or drop the branch, remove the worktree, finish the log."""
    keep_branch = ws is not None and (outcome.outcome == "fixed" or keep)
    try:
        if ws is not None and keep and outcome.outcome != "fixed" and not ws.committed and ws.changed_files():
            _keep_attempt(ws, task, outcome)
    finally:
        try:
            if ws is not None:
                ws.close(keep_branch=keep_branch)
        finally:
            if not keep_branch:
                outcome.branch = None
            outcome.cost_usd = log.spent
            outcome.calls = len(log.records)
            outcome.attempts = list(log.attempts)
            outcome.decisions = list(log.decisions)
            outcome.call_records = list(log.records)
            outcome.top_model = log.top_model
            try:
                outcome.top_model_cost_usd = log.top_model_cost()
            except Exception:  # a report detail must never mask the run's own outcome
                outcome.top_model_cost_usd = None
            log.finish(outcome)
            _final_table(progress, log, outcome.top_model_cost_usd)


def _keep_attempt(ws: WorkingTree, task: Task, outcome: Outcome) -> None:
    """--keep on a failed run: commit the last attempt's state so a human can pick it up."""
    ws.discard_protected()  # never committed, even as a work in progress
    outcome.commit = ws.commit(
        f"wip: escalate's last attempt at {task.title[:60]}\n\nNot fixed: {outcome.outcome}."
    )


def _final_table(progress: Progress, log: RunLog, top: Decimal | None) -> None:
    rows = []
    for tier, model in dict.fromkeys([(a.tier, a.model) for a in log.attempts]):
        tries = [a for a in log.attempts if (a.tier, a.model) == (tier, model)]
        # The implementer's calls only: the helper roles get their own line below.
        mine = [r for r in log.records if (r.tier, r.model) == (tier, model) and r.role == IMPLEMENTER]
        cost = sum((r.cost_usd for r in mine), Decimal(0))
        rows.append((tier, model, str(len(tries)), ", ".join(a.verdict for a in tries), cost))
    progress.table(rows, log.spent, top)
    helpers = {role: c for role, c in cost_by_role(log.records).items() if role != IMPLEMENTER}
    if helpers:
        progress.line("roles: " + ", ".join(f"{role} {fmt_usd(c)}" for role, c in helpers.items()))
    progress.line(f"log: {log.path} (spent {fmt_usd(log.spent)})")
