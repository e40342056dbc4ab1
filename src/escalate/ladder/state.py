"""One run's state on the ladder: the outcome being built, the attempt under way, where records go.

Kept on one object so that every exit (``ladder.stops``) can write what the run did. The run log,
the ledger and the console get each record from here (``records.Recording``); the reproduce phase
writes its attempts through the same hooks (``ladder.reproduce.AttemptLog``).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.ladder.stops import Fixed, Halted, Stop
from escalate.records.console import Progress
from escalate.records.ledger import Ledger
from escalate.records.recording import Recording
from escalate.records.types import AttemptRecord, Decision
from escalate.validation.stages import Verdict

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.ladder.preflight import Preflight
    from escalate.llm.client import CallRecord
    from escalate.llm.pricing import Budget
    from escalate.records.rundir import RunLog
    from escalate.records.types import Outcome
    from escalate.routing.rules import Classification
    from escalate.task import Task
    from escalate.validation import Judgement


class RunState:
    """The escalation run's state for one task."""

    def __init__(
        self, task: Task, config: Config, log: RunLog, progress: Progress, budget: Budget, outcome: Outcome
    ):
        self.task = task
        self.config = config
        self.log = log
        self.progress = progress
        self.budget = budget
        self.outcome = outcome
        self.current: tuple[str, str, int] | None = None  # (tier, model, n) of the attempt under way
        self.attempt_spent_from = Decimal(0)
        self.recording = Recording(log, None, progress)  # the ledger joins in open_ledger
        self.ledger: Ledger | None = None  # None when ledger.enabled is false
        self.repo_root: Path | None = None
        self.base_commit: str | None = None

    # -- the ledger: the same hooks as the run log -----------------------------------------

    def open_ledger(self, repo_root: Path) -> None:
        self.repo_root = repo_root
        self.ledger = self.recording.ledger = Ledger.for_repo(repo_root, self.config)

    def start_recording(self, klass: Classification | None) -> None:
        """The ledger's run row with its class (known only after routing), then what the run log
        holds so far (baseline decisions, the classifier call)."""
        self.recording.start_ledger(
            self.task,
            complexity=klass.complexity if klass else None,
            error_cost=klass.error_cost if klass else None,
            repo=self.repo_root,
            base_commit=self.base_commit,
        )

    def close_ledger(self) -> None:
        """Every exit path: the outcome row (a run that stopped before routing has no class)."""
        if self.ledger is None:
            return
        try:
            self.start_recording(None)
            self.recording.finish_ledger(self.outcome)
        finally:
            self.ledger.close()

    def on_call(self, record: CallRecord) -> None:
        self.recording.call(record)

    def decision(self, d: Decision) -> None:
        self.recording.decision(d)

    def decide(self, kind: str, choice: str, reason: str) -> None:
        self.decision(Decision(kind, choice, reason))

    def preflight(self, pre: Preflight) -> None:
        """Say which tools judge the patch, and warn about uncommitted edits in the checkout."""
        tools = pre.tools
        if tools.interpreter is not None:
            self.decide("tools", tools.interpreter.path, f"tests run with {tools.interpreter.describe()}")
        if tools.ruff:
            self.decide("tools", tools.ruff, "ruff for the lint stage")
        if pre.dirty:
            more = len(pre.dirty) - 5
            shown = ", ".join(pre.dirty[:5]) + (f" and {more} more" if more > 0 else "")
            reason = (
                f"uncommitted changes in {shown}: the fix is made from the last commit, and `git merge` of "
                "the fix branch fails if it touches one of them (commit or stash them first)"
            )
            self.decide("dirty", str(len(pre.dirty)), reason)
            self.progress.line(f"warning: {reason}")

    def stop(self, stop: Stop) -> None:
        """Write the outcome a stop carries; a halt mid-way closes the attempt under way."""
        if isinstance(stop, Halted) and self.current is not None:
            tier, model, n = self.current
            self.record(tier, model, n, Verdict(False, stop.stage, stop.explanation, "", ""), "error")
        self.current = None
        if isinstance(stop, Fixed):
            self.outcome.diff, self.outcome.commit = stop.diff, stop.commit
        self.outcome.outcome = stop.outcome
        self.outcome.explanation = stop.explanation
        self.decision(stop.decision)
        if stop.line:
            self.progress.line(stop.line)

    # -- attempts: the climb's and the reproduce phase's (ladder.reproduce.AttemptLog) ----------

    def begin_attempt(self, tier: str, model: str, n: int) -> None:
        self.current = (tier, model, n)
        self.attempt_spent_from = self.budget.spent

    def end_attempt(
        self, tier: str, model: str, n: int, verdict: Judgement, word: str, discarded: Iterable[object] = ()
    ) -> None:
        self.record(tier, model, n, verdict, word, discarded)
        self.current = None

    def record(
        self, tier: str, model: str, n: int, verdict: Judgement, word: str, discarded: Iterable[object] = ()
    ) -> AttemptRecord:
        """The attempt's record, priced from what the budget spent since it began."""
        spent = self.budget.spent - self.attempt_spent_from
        record = AttemptRecord(
            tier=tier,
            model=model,
            n=n,
            verdict=word,
            stage=verdict.stage,
            reason=verdict.reason,
            cost_usd=spent,
            output=verdict.feedback or "",
            duration_s=verdict.duration_s or 0.0,
            discarded=[str(d) for d in discarded],
        )
        self.recording.attempt(record, self.budget.spent)
        return record
