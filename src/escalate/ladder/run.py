"""The ladder loop for one task: workspace, baseline, route, tiers and attempts -> Outcome.

The loop has three steps, each on one screen: ``prepare`` (baseline, targets, route, crew),
``climb`` (tier after tier) and ``attempt`` (one model attempt and its verdict). Every way it can
end is an exception that carries its outcome (``ladder.stops``); ``run_task`` catches the base
class, and in ``finally:`` closes the run log with that outcome and removes the worktree on
every exit path (fixed, not fixed, budget, API error, Ctrl-C, a bug); the branch survives only
when fixed (or ``keep``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from escalate.agent import prompts as prompt
from escalate.agent.session import AttemptEnd, Session
from escalate.ladder import preflight
from escalate.ladder.policy import ACCEPT, ESCALATE, GIVE_UP, EscalationPolicy, Step
from escalate.ladder.setup import choose_targets, plan_route
from escalate.ladder.stops import (
    CannotReproduce,
    Fixed,
    GaveUp,
    Halted,
    NeedsHuman,
    NotReproduced,
    Stop,
    halted_by,
)
from escalate.llm.client import MeteredClient, require_api_key
from escalate.llm.pricing import Budget, PriceTable, fmt_usd
from escalate.records.console import Progress
from escalate.records.ledger import Ledger
from escalate.records.recording import Recording
from escalate.records.rundir import RunLog, cost_by_role, new_run_id
from escalate.records.types import AttemptRecord, Decision, Outcome
from escalate.roles.plan import IMPLEMENTER
from escalate.validation.judge_files import Discarded, JudgeFiles
from escalate.validation.stages import Verdict

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.ladder.reproduce import ReproWorkspace
    from escalate.llm.catalog import Catalog
    from escalate.llm.client import CallRecord
    from escalate.llm.protocols import ModelClient, Provider
    from escalate.records.types import TierPlan
    from escalate.roles.crew import Crew
    from escalate.roles.plan import Brief
    from escalate.routing.first_request import FirstRequest
    from escalate.routing.route import Route
    from escalate.routing.rules import Classification
    from escalate.task import Task
    from escalate.validation import BaselineFacts, Judgement, Validator
    from escalate.validation.baseline import Baseline
    from escalate.workspace import WorkingTree

Connect = Callable[["Catalog"], "ModelClient"]  # the model client, made once the catalog is known


DISCARDED_NOTE = (
    "These changes were put back as the base commit has them before judging (the files that judge a "
    "patch, and protected paths, cannot be changed by it):\n"
)


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
    from escalate.workspace.worktree import Workspace, ignore_log_dir

    if provider is None:
        require_api_key()  # before any work
    progress = progress or Progress(quiet=True)
    repo_root = Path(repo_root).resolve()
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
    budget = Budget(limit)
    ignore_log_dir(repo_root)
    log = RunLog(repo_root / config.log_dir / new_run_id(task.slug), prices, top_model, task.title)
    outcome = Outcome("error", log_dir=str(log.path))
    ladder = _Ladder(task, config, log, progress, budget, outcome)
    ladder.preflight(pre)
    ws = None
    lock = preflight.TaskLock(repo_root, task.slug)
    try:
        lock.acquire()  # a second run of this task stops here (exit 2), before any work
        from escalate.workspace.sandbox import isolation_for

        isolation = isolation_for(config.validate)  # a sandbox asked for and missing stops here
        outcome.sandbox, outcome.sandbox_warning = isolation.sandbox, isolation.why_not
        ladder.open_ledger(repo_root)
        ws = Workspace.create(repo_root, task.slug)
        ladder.base_commit = ws.base_commit
        outcome.branch = ws.branch

        def connect(catalog: Catalog) -> ModelClient:  # after the baseline: no SDK import for nothing
            return MeteredClient(
                catalog,
                prices,
                budget,
                ladder.on_call,
                run=log.path.name,
                max_retries=config.session.max_retries,
                provider=provider,
                decide=ladder.decide,
            )

        ladder.run(ws, connect, catalog or (lambda: Catalog.load(repo_root, config)))
    except Stop as stop:
        ladder.stop(stop)
    except BaseException as exc:  # budget and API errors are outcomes; the rest is raised on
        halted = halted_by(exc)
        ladder.stop(halted)
        if halted.reraise:
            raise
    finally:
        try:
            _close(ws, task, outcome, keep, log, progress)
        finally:
            try:
                ladder.close_ledger()
            finally:
                lock.release()
    return outcome


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


@dataclass
class _Climb:
    """What ``prepare`` measured and decided, for the tiers to use."""

    ws: WorkingTree
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


class _Ladder:
    """The escalation loop's state for one task (kept on an object so every exit can report)."""

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
        self.discard_note = ""  # the last attempt's discarded changes, for its feedback

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

    def preflight(self, pre: preflight.Preflight) -> None:
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
            self._record(tier, model, n, Verdict(False, stop.stage, stop.explanation, "", ""), "error")
        self.current = None
        if isinstance(stop, Fixed):
            self.outcome.diff, self.outcome.commit = stop.diff, stop.commit
        self.outcome.outcome = stop.outcome
        self.outcome.explanation = stop.explanation
        self.decision(stop.decision)
        if stop.line:
            self.progress.line(stop.line)

    def _record(
        self, tier: str, model: str, n: int, verdict: Judgement, word: str, discarded: Iterable[object] = ()
    ) -> AttemptRecord:
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

    # -- the run: prepare, climb, attempt ----------------------------------------------------

    def run(self, ws: WorkingTree, connect: Connect, catalog: Catalog | Callable[[], Catalog]) -> NoReturn:
        """Always ends in a ``Stop`` (or an error from below)."""
        self.climb(self.prepare(ws, connect, catalog))

    def prepare(self, ws: WorkingTree, connect: Connect, catalog: Catalog | Callable[[], Catalog]) -> _Climb:
        """Baseline, targets, route, crew and brief. Raises CannotReproduce before any API call."""
        from escalate.ladder.presets import apply_preset
        from escalate.roles.crew import Crew
        from escalate.validation.stages import run_baseline, validate
        from escalate.workspace.protected import ProtectedPaths

        task, config = self.task, self.config
        ws.protected = ProtectedPaths(config.editor.protected_paths)  # checked before every commit
        self.progress.line(f"escalate: {task.title} (worktree {ws.path}, branch {ws.branch})")
        from escalate.llm.providers.anthropic import preload_sdk

        preload_sdk()  # hidden behind the baseline's test runs
        known, remember = self._base_memory(ws.base_commit)
        baseline = run_baseline(
            ws.path,
            config.validate,
            list(task.target_tests),
            at_base=ws.base_view,
            known=known,
            remember=remember,
            notify=self.progress.line,
        )
        targets = self._targets(baseline)
        catalog = catalog() if callable(catalog) else catalog
        llm = connect(catalog)
        failures = dict(baseline.target_failures)
        # The same first request and route `escalate explain` shows: route() sizes it (count_tokens).
        request, plan = plan_route(
            task, ws.path, baseline, targets, config, catalog, self.ledger, llm, repo=str(self.repo_root)
        )
        self.start_recording(plan.classification)
        for t in plan.tiers:
            llm.prices.price(t.model.id)  # a missing price stops the run before the first call
        self.log.top_model = plan.tiers[-1].model.id
        for d in plan.decisions:
            self.decision(d)
        for d in apply_preset(plan, config):  # plan-execute moves the start, single keeps one tier
            self.decision(d)
        if task.kind == "issue" and not targets:
            targets, failures = self._reproduce(ws, llm, plan)
        policy = EscalationPolicy(
            ws.tree_hash(),
            len(plan.tiers),
            judge=self._climb_judge(plan),
            tier_names=[t.name for t in plan.tiers],
        )
        # After a reproduction test moved the base, the judge's files count from the new base.
        judge_files = JudgeFiles.of(ws, targets) if config.validate.verdict_from_base else None
        crew = Crew.assemble(
            task, config, catalog, llm, decide=self.decide, frames=request.frames, root=ws.path, route=plan,
            progress=self.progress,
        )  # fmt: skip
        # The repo map's cache lives in the user's repo: a file in the worktree would change the tree hash.
        brief = crew.brief(ws.path, failures, request.frames, Path(ws.repo_root) / ".escalate" / "cache")
        return _Climb(
            ws, baseline, validate, targets, failures, plan, llm, request, crew, brief, policy, judge_files
        )

    def _base_memory(self, commit: str) -> tuple[dict[str, str] | None, Any]:
        """What earlier runs measured at this commit, and how to keep what this run measures."""
        if self.ledger is None:
            return None, None
        from escalate.records import base_outcomes

        repo, ledger = str(self.repo_root), self.ledger
        known = base_outcomes.recall(ledger, repo, commit)
        if known:
            self.decide(
                "baseline", "remembered", f"{len(known)} test outcome(s) at {commit[:12]} from the ledger"
            )
        return known, lambda outcomes: base_outcomes.remember(ledger, repo, commit, outcomes)

    def _climb_judge(self, plan: Any) -> Any:
        """The give-up judge for this run's ladder (routing.giveup), weighing the ledger and the budget."""
        from escalate.routing.giveup import decide_climb

        names = [t.name for t in plan.tiers]
        models = {t.name: t.model.id for t in plan.tiers}

        def judge(nxt: int, failures: list[Any]) -> Any:
            return decide_climb(
                self.ledger, plan.classification, names, nxt, failures, self.config.router,
                repo=str(self.repo_root), budget_left_usd=float(self.budget.remaining), models=models,
            )  # fmt: skip

        return judge

    def _targets(self, baseline: BaselineFacts) -> list[str]:
        """The tests that must pass after the change. Raises CannotReproduce when none fails at base."""
        targets = choose_targets(self.task, baseline)
        if not targets.reproduces:  # the stop writes the decision
            raise CannotReproduce(f"the target test(s) pass at the base commit: {', '.join(targets.dropped)}")
        for decision in targets.decisions():
            self.decision(decision)
        self.outcome.targets = targets.tests
        return targets.tests  # [] for an issue: reproduce first

    def _reproduce(
        self, ws: ReproWorkspace, llm: ModelClient, plan: Route
    ) -> tuple[list[str], dict[str, str]]:
        """An issue without a named test: a reproduction test first, or judged without one (and said
        so). Returns the targets and their failures at base; raises NotReproduced when no tier
        writes a test that fails at base."""
        from escalate.ladder.reproduce import reproduce
        from escalate.routing.testability import testability

        choice = testability(self.task)
        if choice.reproduce and not self.config.roles.test_writer.enabled:
            choice = type(choice)(False, "roles.test_writer.enabled is false")
        if not choice.reproduce:
            self.decide("reproduce", "no test", choice.reason)
            self.outcome.no_test_reason = choice.reason
            self.decide("baseline", "targets", "no test proves it: the suite, ruff and the reviewer judge it")
            return [], {}
        self.decide("reproduce", "test first", choice.reason)
        found = reproduce(self.task, self.config, ws, llm, plan.tiers, self, self.progress)
        if found is None:
            raise NotReproduced("no tier wrote a test that fails at base for the reason the issue gives")
        self.outcome.reproduction = found
        self.outcome.targets = list(found.tests)
        why = f"written by {found.tier} ({found.model}), fails at base; committed as {found.commit[:12]}"
        self.decide("reproduce", ", ".join(found.tests), why)
        self.decide("baseline", "targets", f"the reproduction test must pass: {', '.join(found.tests)}")
        return list(found.tests), dict(found.failures)

    # -- the attempt log the reproduce phase writes to (ladder.reproduce.AttemptLog) ----------

    def begin_attempt(self, tier: str, model: str, n: int) -> None:
        self.current = (tier, model, n)
        self.attempt_spent_from = self.budget.spent

    def end_attempt(self, tier: str, model: str, n: int, verdict: Judgement, word: str) -> None:
        self._record(tier, model, n, verdict, word)
        self.current = None

    def climb(self, c: _Climb) -> NoReturn:
        """Tier after tier from the start tier up, never down. Raises Fixed or NeedsHuman."""
        for index in range(c.plan.start, len(c.plan.tiers)):
            tier = c.plan.tiers[index]
            step = self.tier(c, index, tier)
            if step.action == GIVE_UP and step.climb is not None:  # stopped below the top: not worth it
                raise GaveUp(step.climb.tier, step.reason, step.climb.reason, step.climb.to_json())
            if step.action == GIVE_UP:
                raise NeedsHuman(step.reason)
            nxt = c.plan.tiers[index + 1]
            data = step.climb.to_json() if step.climb is not None else None
            self.decision(
                Decision("escalate", f"{tier.name} -> {nxt.name} ({nxt.model.id})", step.reason, data)
            )
            self.progress.line(f"escalating {tier.name} -> {nxt.name}: {step.reason}")
        raise AssertionError("the policy gives up on the top tier")  # pragma: no cover

    def tier(self, c: _Climb, index: int, tier: TierPlan) -> Step:
        """One tier's conversation: attempts until the policy escalates or gives up (or Fixed)."""
        c.policy.enter_tier(index, tier.max_attempts)
        if c.history:
            c.ws.reset_to_base()  # a new tier starts from the base, not from the last failure
        session = self._session(c, tier)
        feedback: str | None = None
        for n in count(1):
            verdict, step = self.attempt(c, session, tier, n, feedback)
            if step.action in (ESCALATE, GIVE_UP):
                return step
            feedback = prompt.feedback_message(
                verdict.stage, verdict.reason, self.discard_note + verdict.feedback
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _session(self, c: _Climb, tier: TierPlan) -> Session:
        """A fresh conversation for ``tier``, told what earlier tiers tried."""
        from escalate.agent.editor import Editor

        config, task = self.config, self.task
        editor = Editor(
            c.ws.path, config.editor.protected_paths, config.editor.max_view_chars, file_lister=c.ws.files,
            write_guard=c.judge_files.refusal if c.judge_files is not None else None,  # refuses the judge
        )  # fmt: skip
        first = prompt.first_message(
            root=c.ws.path,
            task_title=task.title,
            task_text=task.text,
            target_failures=c.failures or {t: "" for t in c.targets},
            frames=c.request.frames,
            handover=prompt.handover_summary(c.history) if c.history else None,
            suite_must_pass=not c.targets,
            focus_files=c.brief.paths,
            briefing=c.brief.text(),
        )
        max_turns = config.session.max_turns
        return Session(tier, c.llm, editor, c.request.system, first, max_turns=max_turns, role=IMPLEMENTER)

    def attempt(
        self, c: _Climb, session: Session, tier: TierPlan, n: int, feedback: str | None
    ) -> tuple[Judgement, Step]:
        """One attempt: model turns, the verdict (validation, then review), the policy's next step.
        Raises Fixed when the policy accepts."""
        label = f"{tier.name} attempt {n}"
        self.current = (tier.name, tier.model.id, n)
        self.attempt_spent_from = self.budget.spent
        self.progress.attempt_start(tier.name, tier.model.id, n)
        end = session.attempt(feedback)
        # Only the model's edits make an attempt: what tests or tools wrote goes back to base.
        c.ws.restore_except(session.editor.changed)
        discarded = self._discard(c.ws, c.judge_files)
        tree = c.ws.tree_hash()
        verdict = self._judge(c, end, tree)
        c.ws.restore_except(session.editor.changed)  # what this validation wrote is not the patch either
        if verdict.passed:  # the reviewer reads what the tests cannot judge, in the true diff
            verdict = c.crew.review(c.ws.true_diff(), c.targets, end.text, verdict.duration_s) or verdict
        step = c.policy.after_attempt(label, tree, verdict.passed, verdict.signature, verdict.stage)
        word = "pass" if verdict.passed else ("circular" if step.circular else "fail")
        self._record(tier.name, tier.model.id, n, verdict, word, discarded)
        self.discard_note = (
            DISCARDED_NOTE + "".join(f"- {d}\n" for d in discarded) + "\n" if discarded else ""
        )
        self.current = None
        if step.action == ACCEPT:
            raise self._fixed(c, tier, end, session.editor.changed)
        c.history.append((f"{label} ({tier.model.id})", verdict.stage, verdict.reason, c.ws.diff(), word))
        return verdict, step

    def _discard(self, ws: WorkingTree, judge_files: JudgeFiles | None) -> list[Discarded]:
        """Before judging: the judge's files and protected paths back as the base has them (reported)."""
        discarded = judge_files.discard(ws) if judge_files is not None else []
        # Protected paths are checked on the change set itself, not only in the editor.
        discarded += [Discarded(path, why) for path, why in ws.discard_protected()]
        for d in discarded:
            self.decide("verdict", f"discarded {d.path}", d.why)
        return discarded

    def _judge(self, c: _Climb, end: AttemptEnd, tree: str) -> Judgement:
        failed = end.failed_reason
        if failed:
            return Verdict(False, "model", failed, failed, f"model:{end.reason}")
        circular = c.policy.circular_reason(tree)
        if circular:
            # Validating a state already known to fail (or the base) only costs time.
            return Verdict(False, "circular", circular, circular, f"circular:{tree}")
        return c.validate(
            c.ws.path,
            c.ws.changed_files(),
            c.baseline,
            c.targets,
            self.config.validate,
            notify=self.progress.line,
        )

    def _fixed(self, c: _Climb, tier: TierPlan, end: AttemptEnd, edited: set[str]) -> Fixed:
        """Commit the passing change (the model's edits only) with the commit writer's message."""
        message = commit_message(self.task.title, c.targets, tier.name, tier.model.id, end.text)
        c.ws.restore_except(edited)  # the last validation's by-products are not part of the fix
        diff = c.ws.diff()
        message = c.crew.commit_message(diff, message, end.text)
        commit = c.ws.commit(message, paths=edited)
        if self.outcome.reproduction is not None:  # the evidence: the same tests, passing now
            from escalate.ladder.reproduce import passing_run

            repro = self.outcome.reproduction
            repro.after_output = passing_run(c.ws.path, self.config, repro)
        return Fixed(tier.name, tier.model.id, c.ws.branch, commit, diff)


def commit_message(title: str, targets: list[str], tier: str, model: str, summary: str = "") -> str:
    """``fix: <what>``, the tests it fixes, the model's summary, and the Escalated-by trailer."""
    subject = re.sub(r"\s+", " ", title).strip()
    subject = subject if len(subject) <= 66 else subject[:63] + "..."
    lines = [f"fix: {subject}", ""]
    if targets:
        lines += ["Makes these failing tests pass:"] + [f"  {t}" for t in targets] + [""]
    words = re.sub(r"\bDONE\.?\s*$", "", summary.strip()).strip()
    if words:
        lines += [words[:1500], ""]
    lines.append(f"Escalated-by: escalate ({tier}/{model})")
    return "\n".join(lines) + "\n"


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
