"""The set-up of a run that ``escalate fix`` and ``escalate explain`` share, so what explain
shows is what fix does: the targets read from the baseline, then the first request and the
route planned on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.records.types import Decision
from escalate.routing.first_request import FirstRequest, first_request
from escalate.routing.route import Route, route
from escalate.routing.testability import named_targets

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.llm.catalog import Catalog
    from escalate.llm.protocols import ModelClient
    from escalate.records.ledger import Ledger
    from escalate.task import Task
    from escalate.validation import BaselineFacts


@dataclass
class Targets:
    """The tests a change must make pass, as the baseline shows them."""

    tests: list[str]  # []: the whole suite and ruff must pass (for an issue: reproduce it first)
    named: bool  # the task named them (else they come from the tests failing at base)
    dropped: list[str] = field(default_factory=list)  # named targets that already pass at base
    issue: bool = False  # an issue's targets: the failing tests its text names
    preexisting: list[str] = field(default_factory=list)  # an issue's other failures at base

    @property
    def reproduces(self) -> bool:
        """False when every named target passes at base: there is nothing to fix."""
        return bool(self.tests) or not self.named

    def decisions(self) -> list[Decision]:
        """What the run log says about them (kind "baseline")."""
        if not self.reproduces:
            why = f"the target test(s) pass at the base commit: {', '.join(self.dropped)}"
            return [Decision("baseline", "cannot_reproduce", why)]
        if self.named:
            why = f"already passing at base, dropped: {', '.join(self.dropped)}"
            return [Decision("baseline", "targets", why)] if self.dropped else []
        if self.issue:
            out = []
            if self.preexisting:
                why = f"pre-existing, neither blocking nor targets: {', '.join(self.preexisting)}"
                out.append(Decision("baseline", "failing at base", why))
            if self.tests:
                out.append(
                    Decision(
                        "baseline", "targets", f"the issue names these failing tests: {', '.join(self.tests)}"
                    )
                )
            return out
        if self.tests:
            why = f"tests failing at base become the targets: {', '.join(self.tests)}"
            return [Decision("baseline", "targets", why)]
        return [Decision("baseline", "targets", "no test fails at base: the whole suite and ruff must pass")]


def choose_targets(task: Task, baseline: BaselineFacts) -> Targets:
    """The named targets that fail at base; for an issue, the failing tests its text names (the
    base's other failures are pre-existing); otherwise every test failing at base."""
    if task.target_tests:
        named = list(task.target_tests)
        tests = [t for t in named if baseline.reproduces([t])]
        return Targets(tests, True, [t for t in named if t not in tests])
    failing = set(baseline.failing_tests)
    if task.kind == "issue":
        tests = named_targets(task, failing)
        return Targets(tests, False, issue=True, preexisting=sorted(failing - set(tests)))
    return Targets(sorted(failing), False)


def plan_route(
    task: Task,
    root: Path,
    baseline: BaselineFacts | None,
    targets: list[str],
    config: Config,
    catalog: Catalog,
    ledger: Ledger | None,
    llm: ModelClient | None,
    *,
    repo: str | None = None,
) -> tuple[FirstRequest, Route]:
    """The first request a tier sends (sized by ``count_tokens`` when there is a client) and the
    route planned on it (``repo``: whose ledger history counts)."""
    failures = dict(baseline.target_failures) if baseline is not None else {}
    request = first_request(task, root, failures, targets, config)
    plan = route(task, baseline, config, catalog, ledger, root=root, request=request, llm=llm, repo=repo)
    return request, plan
