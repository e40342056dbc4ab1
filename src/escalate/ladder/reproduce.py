"""Reproduce first: for an issue without a named failing test, a test writer writes a test that
fails at base for the issue's reason, before anyone touches the code.

One try per tier, from ``roles.test_writer.tier`` upward: the test writer writes, the runner runs
the test on the unchanged code (:func:`escalate.validation.reproduction.check_reproduction`); a test
that is not accepted goes back once with the output; a second miss is a failed attempt of this
phase (stage ``reproduce``) and the next tier tries from a clean tree. An accepted test is
committed on the fix branch and becomes the branch's base: from then on it is judged like every
existing test (taken from the base, so the implementer cannot weaken it), and it is the target.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from escalate.agent.editor import Editor
from escalate.agent.session import Session
from escalate.records.ledger import REPRODUCE_STAGE
from escalate.records.types import Reproduction, TierPlan
from escalate.roles import test_writer
from escalate.roles.plan import MIN_THINKING
from escalate.routing.rules import LINES, find_tier
from escalate.validation.reproduction import ReproCheck, check_reproduction, is_test_path
from escalate.validation.stages import Verdict
from escalate.validation.testrun import run_pytest

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.llm.catalog import Catalog
    from escalate.llm.protocols import ModelClient
    from escalate.records.console import Progress
    from escalate.task import Task

STAGE = REPRODUCE_STAGE  # the ledger keeps these attempts out of the tiers' history
KEY = "roles.test_writer"
TRIES_PER_TIER = 2  # the first try, and one send-back with the output


class ReproWorkspace(Protocol):
    """What the phase needs from the worktree (``escalate.workspace.worktree.Workspace`` is one)."""

    path: Path

    def changes(self) -> list: ...

    def files(self) -> list[str]: ...

    def read_base_text(self, rel: str) -> str | None: ...

    def reset_to_base(self) -> None: ...

    def advance_base(self, message: str, paths: list[str]) -> str: ...

    def base_view(self, keep: Iterable[str] = ()) -> AbstractContextManager: ...


class AttemptLog(Protocol):
    """Where the phase's attempts are written (the ladder: run log, ledger, console)."""

    def begin_attempt(self, tier: str, model: str, n: int) -> None: ...

    def end_attempt(self, tier: str, model: str, n: int, verdict: Verdict, word: str) -> None: ...


def writer_tiers(config: Config, catalog: Catalog, tiers: list[TierPlan]) -> tuple[list[TierPlan], list[str]]:
    """The tiers the test writer tries in turn, and notes on settings its model does not take.

    Its own first, planned as every role's is (``roles.test_writer``: ``tier`` by name or model line,
    or ``model``, with ``effort``, ``thinking_budget`` and ``max_tokens`` filtered through the model's
    capabilities; where effort or thinking is not set, the ladder tier's own); then the ladder's
    tiers above it. A ``model`` off the ladder writes first, then the tiers above its line.
    """
    from escalate.roles.plan import plan_role

    rc = config.roles.test_writer
    plan, notes = plan_role(test_writer.ROLE, rc, KEY, config, catalog)
    names = [t.name for t in tiers]
    same_model = [i for i, t in enumerate(tiers) if t.model.id == plan.model.id]
    if same_model:  # the tier it names (two tiers may share a model), else the first with its model
        start = next((i for i in same_model if names[i] == plan.name), same_model[0])
    elif rc.model is not None:
        own = TierPlan(plan.name, plan.model, 1, plan.max_tokens, plan.effort, plan.thinking)
        above = find_tier(names, plan.model.line) + 1 if plan.model.line in LINES else len(tiers)
        return [own, *(_sized(t, rc.max_tokens) for t in tiers[above:])], notes
    else:  # the role's tier is not on this run's ladder (preset single): the nearest one by line
        start = names.index(rc.tier) if rc.tier in names else find_tier(names, rc.tier or "sonnet")
    tier = tiers[start]
    effort = plan.effort if rc.effort is not None and plan.model.id == tier.model.id else tier.effort
    thinking = (
        plan.thinking if rc.thinking_budget is not None and plan.model.id == tier.model.id else tier.thinking
    )
    own = _sized(dataclasses.replace(tier, effort=effort, thinking=thinking), rc.max_tokens)
    return [own, *(_sized(t, rc.max_tokens) for t in tiers[start + 1 :])], notes


def _sized(tier: TierPlan, max_tokens: int) -> TierPlan:
    """``tier`` with the role's max_tokens; a thinking budget that no longer fits is lowered (or dropped)."""
    thinking = tier.thinking
    if thinking and thinking.get("budget_tokens", 0) >= max_tokens:
        budget = max_tokens - 1
        thinking = {**thinking, "budget_tokens": budget} if budget >= MIN_THINKING else None
    return dataclasses.replace(tier, max_tokens=max_tokens, thinking=thinking)


def reproduce(
    task: Task,
    config: Config,
    ws: ReproWorkspace,
    llm: ModelClient,
    tiers: list[TierPlan],
    log: AttemptLog,
    progress: Progress,
) -> Reproduction | None:
    """The accepted reproduction (committed, now the base), or None when no tier wrote one.
    ``tiers``: the test writer's (:func:`writer_tiers`)."""
    rc = config.roles.test_writer
    test_files = [f for f in ws.files() if is_test_path(f)]
    first = test_writer.first_message(task.title, task.text, ws.path, test_files)
    for tier in tiers:
        editor = Editor(
            ws.path,
            config.editor.protected_paths,
            config.editor.max_view_chars,
            file_lister=ws.files,
            write_guard=test_writer.write_guard,
        )
        session = Session(
            tier, llm, editor, test_writer.TEST_WRITER_SYSTEM, first, max_turns=rc.max_turns,
            role=test_writer.ROLE,
        )  # fmt: skip
        log.begin_attempt(tier.name, tier.model.id, 1)
        progress.step_start(f"test writer {tier.name} ({tier.model.id}) reproduce ")
        check = _try(session, ws, config, tries=TRIES_PER_TIER)
        if check.accepted:
            message = _commit_message(task.title, check, tier.name, tier.model.id)
            commit = ws.advance_base(message, check.files)
            log.end_attempt(tier.name, tier.model.id, 1, _verdict(True, check), "pass")
            found = (check.tests, check.files, tier.name, tier.model.id, commit, check.output)
            return Reproduction(*found, failures=check.failures, source=check.source)
        log.end_attempt(tier.name, tier.model.id, 1, _verdict(False, check), "fail")
        ws.reset_to_base()
    return None


def _try(session: Session, ws: ReproWorkspace, config: Config, *, tries: int) -> ReproCheck:
    feedback = None
    check = ReproCheck(False, "no try was made")
    for _ in range(tries):
        end = session.attempt(feedback)
        if end.failed_reason:
            return ReproCheck(False, end.failed_reason)
        check = check_reproduction(ws.path, ws.changes(), ws.read_base_text, config.validate)
        if check.accepted:
            return check
        feedback = test_writer.rejection_message(check.reason, check.output, test_broken=check.test_broken)
    return check


def _verdict(passed: bool, check: ReproCheck) -> Verdict:
    signature = f"{STAGE}:{check.reason.split(':')[0]}"
    return Verdict(passed, STAGE, check.reason, check.output, signature)


def _commit_message(title: str, check: ReproCheck, tier: str, model: str) -> str:
    tests = "\n".join(f"  {t}" for t in check.tests)
    return (
        f"test: reproduce {title[:60]}\n\nThese tests fail before the fix:\n{tests}\n\n"
        f"Escalated-by: escalate (test writer {tier}/{model})\n"
    )


def reproduce_in_answer(
    ws: ReproWorkspace, config: Config, title: str, tier: TierPlan | str, model: str
) -> tuple[ReproCheck, Reproduction | None]:
    """One-shot (the nightly batch): one answer carries the test and the fix. Its test files are
    judged on the unchanged code (the other changes set aside), and committed first when accepted;
    the fix comes back on top of the new base."""
    tests = [c.path for c in ws.changes() if is_test_path(c.path)]
    name = tier if isinstance(tier, str) else tier.name
    with ws.base_view(keep=tests):
        check = check_reproduction(ws.path, ws.changes(), ws.read_base_text, config.validate)
        if not check.accepted:
            return check, None
        message = _commit_message(title, check, name, model)
        commit = ws.advance_base(message, check.files)
    found = (check.tests, check.files, name, model, commit, check.output)
    return check, Reproduction(*found, failures=check.failures, source=check.source)


def passing_run(root: Path, config: Config, reproduction: Reproduction) -> str:
    """After the fix: the reproduction tests run once more, for the evidence (pytest's summary)."""
    tr = run_pytest(root, config.validate, list(reproduction.tests))
    results = tr.results or {}
    lines = [f"{nid}: {results[nid].outcome}" for nid in sorted(results) if nid in reproduction.tests]
    return "\n".join(lines) or tr.run.output
