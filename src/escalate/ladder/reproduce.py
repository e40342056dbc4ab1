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
from escalate.records.types import Reproduction
from escalate.roles import test_writer
from escalate.routing.rules import find_tier
from escalate.validation.reproduction import ReproCheck, check_reproduction, is_test_path
from escalate.validation.stages import Verdict
from escalate.validation.testrun import run_pytest

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.llm.protocols import ModelClient
    from escalate.records.console import Progress
    from escalate.records.types import TierPlan
    from escalate.task import Task

STAGE = "reproduce"
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


def start_index(config: Config, tiers: list[TierPlan]) -> int:
    """The tier the test writer starts on: ``roles.test_writer.tier`` by name, else by model line."""
    rc = config.roles.test_writer
    if rc.model is not None:
        for i, t in enumerate(tiers):
            if t.model.id == rc.model:
                return i
    names = [t.name for t in tiers]
    if rc.tier in names:
        return names.index(rc.tier)
    return find_tier(names, rc.tier or "sonnet")


def reproduce(
    task: Task,
    config: Config,
    ws: ReproWorkspace,
    llm: ModelClient,
    tiers: list[TierPlan],
    log: AttemptLog,
    progress: Progress,
) -> Reproduction | None:
    """The accepted reproduction (committed, now the base), or None when no tier wrote one."""
    rc = config.roles.test_writer
    test_files = [f for f in ws.files() if is_test_path(f)]
    first = test_writer.first_message(task.title, task.text, ws.path, test_files)
    for index in range(start_index(config, tiers), len(tiers)):
        tier = dataclasses.replace(tiers[index], max_tokens=rc.max_tokens)
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
            return Reproduction(*found, failures=check.failures)
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
        feedback = test_writer.rejection_message(check.reason, check.output)
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
    return check, Reproduction(*found, failures=check.failures)


def passing_run(root: Path, config: Config, reproduction: Reproduction) -> str:
    """After the fix: the reproduction tests run once more, for the evidence (pytest's summary)."""
    tr = run_pytest(root, config.validate, list(reproduction.tests))
    results = tr.results or {}
    lines = [f"{nid}: {results[nid].outcome}" for nid in sorted(results) if nid in reproduction.tests]
    return "\n".join(lines) or tr.run.output
