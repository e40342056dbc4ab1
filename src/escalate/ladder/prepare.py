"""The ladder's first step: baseline, targets, route, crew and brief, before any tier is tried.

``prepare`` raises ``CannotReproduce`` before any API call when the targets pass at base, and
``NotReproduced`` when an issue needs a reproduction test and no tier writes one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from escalate.ladder.policy import ClimbJudge, EscalationPolicy
from escalate.ladder.reproduce import ReproWorkspace
from escalate.ladder.setup import choose_targets, plan_route
from escalate.ladder.stops import CannotReproduce, NotReproduced
from escalate.validation.judge_files import ChangeSet, JudgeFiles
from escalate.workspace import WorkingTree

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.ladder.state import RunState
    from escalate.llm.catalog import Catalog
    from escalate.llm.protocols import ModelClient
    from escalate.roles.crew import Crew
    from escalate.roles.plan import Brief
    from escalate.routing.first_request import FirstRequest
    from escalate.routing.route import Route
    from escalate.validation import BaselineFacts, Validator
    from escalate.validation.baseline import Baseline
    from escalate.workspace.protected import ProtectedPaths

Connect = Callable[["Catalog"], "ModelClient"]  # the model client, made once the catalog is known
Remember = Callable[[dict[str, str]], None]  # keeps the base outcomes this run measures (the ledger)


class LadderTree(WorkingTree, ReproWorkspace, ChangeSet, Protocol):
    """What the ladder does with a task's tree: the worktree seam, and what the reproduce phase and
    the judge's files read of it (``workspace.worktree.Workspace`` is the one implementation)."""

    protected: ProtectedPaths | None  # checked on the change set before every commit


@dataclass
class Climb:
    """What ``prepare`` measured and decided, for the tiers to use."""

    ws: LadderTree
    baseline: Baseline
    validate: Validator
    targets: list[str]
    failures: dict[str, str]  # target node id -> failure text at base
    plan: Route
    llm: ModelClient
    request: FirstRequest
    crew: Crew
    brief: Brief
    policy: EscalationPolicy
    judge_files: JudgeFiles | None  # the judge's files from base (None: validate.verdict_from_base is false)
    history: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # for the hand-over
    discard_note: str = ""  # the last attempt's discarded changes, for its feedback


def prepare(
    run: RunState, ws: LadderTree, connect: Connect, catalog: Catalog | Callable[[], Catalog]
) -> Climb:
    """Baseline, targets, route, crew and brief. Raises CannotReproduce before any API call."""
    from escalate.ladder.presets import apply_preset
    from escalate.roles.crew import Crew
    from escalate.validation.stages import run_baseline, validate
    from escalate.workspace.protected import ProtectedPaths

    task, config = run.task, run.config
    ws.protected = ProtectedPaths(config.editor.protected_paths)  # checked before every commit
    run.progress.line(f"escalate: {task.title} (worktree {ws.path}, branch {ws.branch})")
    known, remember = _base_memory(run, ws.base_commit)
    baseline = run_baseline(
        ws.path,
        config.validate,
        list(task.target_tests),
        at_base=ws.base_view,
        known=known,
        remember=remember,
        notify=run.progress.line,
    )
    targets = _targets(run, baseline)
    # A reproduction test (an issue with no failing test named) moves the base; otherwise the base
    # state's hash and the judge's files are taken now, while the SDK's import (``catalog()`` and the
    # first call wait for it) may still run on its thread, instead of after it.
    moves_base = task.kind == "issue" and not targets
    base_state = None if moves_base else _base_state(ws, targets, config)
    catalog = catalog() if callable(catalog) else catalog
    llm = connect(catalog)
    failures = dict(baseline.target_failures)
    # The same first request and route `escalate explain` shows: route() sizes it (count_tokens).
    request, plan = plan_route(
        task, ws.path, baseline, targets, config, catalog, run.ledger, llm, repo=str(run.repo_root)
    )
    run.start_recording(plan.classification)
    for t in plan.tiers:
        llm.prices.price(t.model.id)  # a missing price stops the run before the first call
    run.log.top_model = plan.tiers[-1].model.id
    for d in plan.decisions:
        run.decision(d)
    for d in apply_preset(plan, config):  # plan-execute moves the start, single keeps one tier
        run.decision(d)
    if moves_base:
        targets, failures = _reproduce(run, ws, llm, plan, catalog)
    # After a reproduction test moved the base, the judge's files count from the new base.
    base_tree, judge_files = base_state or _base_state(ws, targets, config)
    repro = run.outcome.reproduction
    if judge_files is None and repro is not None:  # the runner's own proof is frozen whatever the config
        judge_files = JudgeFiles.only(ws, repro.files)
    policy = EscalationPolicy(
        base_tree,
        len(plan.tiers),
        judge=_climb_judge(run, plan),
        tier_names=[t.name for t in plan.tiers],
    )
    crew = Crew.assemble(
        task, config, catalog, llm, decide=run.decide, frames=request.frames, root=ws.path, route=plan,
        progress=run.progress,
    )  # fmt: skip
    # The repo map's cache lives in the user's repo: a file in the worktree would change the tree hash.
    brief = crew.brief(ws.path, failures, request.frames, Path(ws.repo_root) / ".escalate" / "cache")
    return Climb(
        ws, baseline, validate, targets, failures, plan, llm, request, crew, brief, policy, judge_files
    )


def _base_state(ws: LadderTree, targets: list[str], config: Config) -> tuple[str, JudgeFiles | None]:
    """The base state's tree hash (the policy's circular check) and the judge's files from base."""
    return ws.tree_hash(), JudgeFiles.of(ws, targets) if config.validate.verdict_from_base else None


def _base_memory(run: RunState, commit: str) -> tuple[dict[str, str] | None, Remember | None]:
    """What earlier runs measured at this commit, and how to keep what this run measures."""
    if run.ledger is None:
        return None, None
    from escalate.records import base_outcomes

    repo, ledger = str(run.repo_root), run.ledger
    known = base_outcomes.recall(ledger, repo, commit)
    if known:
        run.decide("baseline", "remembered", f"{len(known)} test outcome(s) at {commit[:12]} from the ledger")
    return known, lambda outcomes: base_outcomes.remember(ledger, repo, commit, outcomes)


def _climb_judge(run: RunState, plan: Route) -> ClimbJudge:
    """The give-up judge for this run's ladder (routing.giveup), weighing the ledger and the budget."""
    from escalate.routing.giveup import ClimbDecision, Failure, decide_climb

    names = [t.name for t in plan.tiers]
    models = {t.name: t.model.id for t in plan.tiers}

    def judge(nxt: int, failures: list[Failure]) -> ClimbDecision:
        return decide_climb(
            run.ledger, plan.classification, names, nxt, failures, run.config.router,
            repo=str(run.repo_root), budget_left_usd=float(run.budget.remaining), models=models,
        )  # fmt: skip

    return judge


def _targets(run: RunState, baseline: BaselineFacts) -> list[str]:
    """The tests that must pass after the change. Raises CannotReproduce when none fails at base."""
    targets = choose_targets(run.task, baseline)
    if not targets.reproduces:  # the stop writes the decision
        raise CannotReproduce(f"the target test(s) pass at the base commit: {', '.join(targets.dropped)}")
    for decision in targets.decisions():
        run.decision(decision)
    run.outcome.targets = targets.tests
    return targets.tests  # [] for an issue: reproduce first


def _reproduce(
    run: RunState, ws: LadderTree, llm: ModelClient, plan: Route, catalog: Catalog
) -> tuple[list[str], dict[str, str]]:
    """An issue without a named test: a reproduction test first, or judged without one (and said
    so). Returns the targets and their failures at base; raises NotReproduced when no tier
    writes a test that fails at base."""
    from escalate.ladder.reproduce import reproduce, writer_tiers
    from escalate.roles.plan import describe_settings
    from escalate.routing.testability import testability

    choice = testability(run.task, run.config.roles.test_writer.enabled)
    if not choice.reproduce:
        run.decide("reproduce", "no test", choice.reason)
        run.outcome.no_test_reason = choice.reason
        run.decide("baseline", "targets", f"no test proves it: judged by {_judges(run.config)} only")
        return [], {}
    run.decide("reproduce", "test first", choice.reason)
    tiers, notes = writer_tiers(run.config, catalog, plan.tiers)
    for t in tiers:
        llm.prices.price(t.model.id)  # a missing price stops the run before the first call
    settings = describe_settings(tiers[0])
    then = f"; then {', '.join(t.name for t in tiers[1:])}" if len(tiers) > 1 else ""
    why = "; ".join(["write a test that fails at base first (roles.test_writer)" + then, *notes])
    run.decide("role", f"test_writer: {tiers[0].name} ({settings}, max_tokens {tiers[0].max_tokens})", why)
    found = reproduce(run.task, run.config, ws, llm, tiers, run, run.progress)
    if found is None:
        raise NotReproduced("no tier wrote a test that fails at base for the reason the issue gives")
    run.outcome.reproduction = found
    run.outcome.targets = list(found.tests)
    why = f"written by {found.tier} ({found.model}), fails at base; committed as {found.commit[:12]}"
    run.decide("reproduce", ", ".join(found.tests), why)
    run.decide("baseline", "targets", f"the reproduction test must pass: {', '.join(found.tests)}")
    return list(found.tests), dict(found.failures)


def _judges(config: Config) -> str:
    """What judges a change no test proves, as this config runs it (the PR must not claim more)."""
    reviewer = config.roles.reviewer.enabled and config.roles.preset != "single"
    on = [
        ("the full suite", config.validate.full_suite),
        ("ruff", config.validate.ruff),
        ("the reviewer", reviewer),
    ]
    return ", ".join(name for name, yes in on if yes) or "the syntax check"
