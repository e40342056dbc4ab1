"""One run's records, each written once to every place that keeps it: the run directory, the
ledger (when ``ledger.enabled``) and the console (when there is one).

``escalate fix`` and ``batch collect`` both record through it, so a call, a decision, an
attempt and the outcome land in the same places in the same form whichever flow made them.
The ledger row of a run needs its class, known only after routing: ``start_ledger`` writes
the run and then what the run log already holds, so nothing recorded before is lost.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.records.ledger import RunRecorder

if TYPE_CHECKING:
    from escalate.llm.client import CallRecord
    from escalate.records.console import Progress
    from escalate.records.ledger import Ledger
    from escalate.records.rundir import RunLog
    from escalate.records.types import AttemptRecord, Decision, Outcome
    from escalate.task import Task


class Recording:
    """The run log, the ledger run (once started) and the console, fed through one set of hooks."""

    def __init__(self, log: RunLog, ledger: Ledger | None = None, progress: Progress | None = None) -> None:
        self.log = log
        self.ledger = ledger
        self.progress = progress
        self.ledger_run: RunRecorder | None = None

    @property
    def run_id(self) -> str:
        """The run's id: the run directory's name, also the ledger's run id."""
        return self.log.path.name

    def start_ledger(
        self,
        task: Task,
        *,
        complexity: str | None,
        error_cost: str | None,
        repo: Path | None,
        base_commit: str | None,
        source: str | None = None,
    ) -> None:
        """Write the run, its task and class to the ledger, then everything recorded so far."""
        if self.ledger is None or self.ledger_run is not None:
            return
        self.ledger_run = RunRecorder.start(
            self.ledger,
            self.run_id,
            task,
            complexity=complexity,
            error_cost=error_cost,
            repo=repo,
            base_commit=base_commit,
            source=source,
        )
        for record in self.log.records:
            self.ledger_run.call(record)
        for d in self.log.decisions:
            self.ledger_run.decision(d)
        for a in self.log.attempts:
            self.ledger_run.attempt(a)

    def call(self, record: CallRecord) -> None:
        self.log.call(record)
        if self.ledger_run is not None:
            self.ledger_run.call(record)

    def decision(self, decision: Decision) -> None:
        self.log.decision(decision)
        if self.ledger_run is not None:
            self.ledger_run.decision(decision)

    def attempt(self, record: AttemptRecord, spent: Decimal | None = None) -> None:
        """One attempt's verdict; ``spent`` (the run's total so far) goes on the console line."""
        self.log.attempt(record)
        if self.ledger_run is not None:
            self.ledger_run.attempt(record)
        if self.progress is not None and spent is not None:
            self.progress.attempt_end(record.verdict, record.stage, record.reason, spent)

    def finish_ledger(self, outcome: Outcome) -> None:
        """The ledger's outcome row (the run row first, for a run that ended before routing)."""
        if self.ledger_run is not None:
            self.ledger_run.finish(outcome)

    def finish(self, outcome: Outcome) -> None:
        """The outcome everywhere: the ledger row, then ``summary.md`` and ``result.json``."""
        try:
            self.finish_ledger(outcome)
        finally:
            self.log.finish(outcome)
