"""``batch collect``: turn an ended batch's results into validated branches and pull requests.

Each succeeded result is applied in its own worktree of the batch's base commit by the same
``Editor`` as ``escalate fix``, validated the same way (baseline, ruff, target tests, full
suite) and, for warning and lint tasks, checked for the finding itself being gone. Its cost
is recorded at batch prices (50%, cache multipliers stacking) next to what the same usage
would have cost interactively. A failed fix goes one tier up in the next batch (or at once
with ``escalate_now``); errored, expired and canceled requests keep their tier. Only
``pending`` requests are handled, each claimed first, so collecting twice applies nothing twice.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.agent.editor import Editor
from escalate.batch.discovery import still_present
from escalate.batch.oneshot import apply_response
from escalate.batch.pulls import combine, open_pull
from escalate.batch.queue import FIXED, NEEDS_HUMAN, RESOLVED, WAITING, Queue
from escalate.batch.submit import COLLECTED, SUBMITTED, BatchError, make_provider, open_ledger, reconcile
from escalate.errors import EscalateError
from escalate.ladder.attempt import commit_message
from escalate.ladder.reproduce import passing_run, reproduce_in_answer
from escalate.ladder.run import run_task
from escalate.llm.catalog import Catalog
from escalate.llm.client import call_record
from escalate.llm.pricing import PriceTable, fmt_usd
from escalate.records.recording import Recording
from escalate.records.rundir import RunLog, new_run_id
from escalate.records.types import AttemptRecord, Decision, Outcome, Reproduction
from escalate.routing.testability import named_targets, testability
from escalate.task import Task
from escalate.validation.judge_files import JudgeFiles
from escalate.validation.stages import run_baseline, validate
from escalate.workspace.protected import ProtectedPaths
from escalate.workspace.worktree import Workspace

if TYPE_CHECKING:
    from escalate.config import Config
    from escalate.llm.protocols import BatchItem, Completion, Provider
    from escalate.records.ledger import Ledger

POLL_SECONDS = 30.0


@dataclass
class RequestResult:
    """What became of one request of a batch."""

    batch: str
    custom_id: str
    kind: str
    title: str
    tier: str
    model: str
    result_type: str  # succeeded | errored | expired | canceled | missing
    state: str  # fixed | failed | needs_human | errored | expired | canceled | stale
    stage: str = ""  # what decided a succeeded result: ok | baseline | edit | finding | a validation stage
    detail: str = ""
    cost_usd: Decimal = Decimal(0)  # at batch prices
    interactive_usd: Decimal = Decimal(0)  # the same usage at interactive prices
    branch: str | None = None
    pull_request: str | None = None
    next_tier: str | None = None  # where a re-queued task goes
    escalated: dict | None = None  # the interactive run's outcome with --escalate-now
    run_id: str | None = None  # the ledger run holding its call, attempt and outcome
    base_commit: str = ""
    log_dir: str | None = None  # the run directory with the cost log (calls.jsonl)
    target_tests: list[str] = field(default_factory=list)
    reproduction: Reproduction | None = None  # an issue's test, written in the same answer, judged first
    no_test_reason: str | None = None  # an issue judged without a test: why (the PR says so)

    def to_json(self) -> dict:
        out = asdict(self)
        out["cost_usd"] = round(float(self.cost_usd), 6)
        out["interactive_usd"] = round(float(self.interactive_usd), 6)
        out["reproduction"] = self.reproduction.to_json() if self.reproduction else None
        return out


@dataclass
class Collection:
    results: list[RequestResult] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)  # local batch ids handled now
    in_progress: list[str] = field(default_factory=list)  # batches not ended yet
    reconciled: list[str] = field(default_factory=list)

    @property
    def cost(self) -> Decimal:
        return sum((r.cost_usd for r in self.results), Decimal(0))

    @property
    def interactive_cost(self) -> Decimal:
        return sum((r.interactive_usd for r in self.results), Decimal(0))

    def to_json(self) -> dict:
        return {
            "collected": self.collected,
            "in_progress": self.in_progress,
            "reconciled": self.reconciled,
            "results": [r.to_json() for r in self.results],
            "cost_usd": round(float(self.cost), 6),
            "interactive_cost_usd": round(float(self.interactive_cost), 6),
        }

    def summary_markdown(self) -> str:
        """The step summary: what was fixed, what escalated, and the cost next to interactive prices."""
        lines = ["## escalate nightly: collected", ""]
        if not self.results:
            lines.append("Nothing to collect" + (f" ({len(self.in_progress)} batch(es) in progress)." if
                                                 self.in_progress else "."))  # fmt: skip
            return "\n".join(lines) + "\n"
        lines += [
            "| task | tier (model) | result | batch cost | interactive | where |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.results:
            where = (
                r.pull_request or r.branch or (f"next: {r.next_tier}" if r.next_tier else "") or r.detail[:80]
            )
            lines.append(
                f"| {r.title[:70]} | {r.tier} ({r.model}) | {r.state} | {fmt_usd(r.cost_usd)} | "
                f"{fmt_usd(r.interactive_usd)} | {where.replace('|', '/')} |"
            )
        fixed = sum(r.state == FIXED for r in self.results)
        escalated = sum(bool(r.next_tier) for r in self.results)
        saved = self.interactive_cost - self.cost
        lines += [
            "",
            f"**{fixed} fixed, {escalated} escalated to the next batch**, "
            f"{sum(r.state == NEEDS_HUMAN for r in self.results)} need a human.",
            f"Cost {fmt_usd(self.cost)} at batch prices; the same calls interactively: "
            f"{fmt_usd(self.interactive_cost)} (saved {fmt_usd(saved)}).",
        ]
        return "\n".join(lines) + "\n"


def collect(
    repo_root: Path,
    config: Config,
    *,
    provider: Provider | None = None,
    catalog: Catalog | None = None,
    wait: bool = False,
    timeout: float | None = None,
    poll_seconds: float = POLL_SECONDS,
    escalate_now: bool = False,
) -> Collection:
    """Collect every submitted batch that has ended (waiting for it with `wait`)."""
    repo_root = Path(repo_root).resolve()
    provider = make_provider(provider)
    prices = PriceTable.load(config.prices)
    out = Collection()
    deadline = time.monotonic() + timeout if timeout else None
    with open_ledger(repo_root, config) as ledger:
        out.reconciled = reconcile(ledger, provider)
        # A collect that died mid-apply left its claim behind; its worktree is gone, so redo it.
        ledger.db.execute("UPDATE batch_tasks SET state = 'pending' WHERE state = 'applying'")
        queue = Queue(ledger)
        for batch in reversed(ledger.batches(SUBMITTED)):  # oldest first
            remote = provider.retrieve_batch(batch["api_batch_id"])
            while wait and remote.processing_status != "ended":
                if deadline is not None and time.monotonic() + poll_seconds > deadline:
                    break
                time.sleep(poll_seconds)
                remote = provider.retrieve_batch(batch["api_batch_id"])
            if remote.processing_status != "ended":
                out.in_progress.append(batch["id"])
                continue
            ctx = _Context(repo_root, config, ledger, queue, prices, provider, catalog, escalate_now)
            out.results += ctx.handle_batch(batch)
            ledger.update_batch(batch["id"], status=COLLECTED, ended=True)
            out.collected.append(batch["id"])
        if config.batch.combined_pr:
            for base, fixed in _by_base(out.results).items():
                combine(repo_root, config, fixed, base)
    return out


@dataclass
class _Context:
    repo_root: Path
    config: Config
    ledger: Ledger
    queue: Queue
    prices: PriceTable
    provider: Provider
    catalog: Catalog | None
    escalate_now: bool

    def handle_batch(self, batch: dict) -> list[RequestResult]:
        rows = {t["custom_id"]: t for t in batch["tasks"]}
        results = []
        seen = set()
        for item in self.provider.batch_results(batch["api_batch_id"]):
            seen.add(item.custom_id)
            row = rows.get(item.custom_id)
            if row is None or row["state"] != "pending" or not self.queue.claim(batch["id"], item.custom_id):
                continue  # not ours, or handled by an earlier collect
            results.append(self.handle(batch["id"], row, item))
        for cid, row in rows.items():
            if cid not in seen and row["state"] == "pending" and self.queue.claim(batch["id"], cid):
                results.append(self.handle(batch["id"], row, None))
        return results

    def handle(self, batch_id: str, row: dict, result: BatchItem | None) -> RequestResult:
        record = row["task"]
        task = Task(**record["task"])
        res = RequestResult(
            batch=batch_id,
            custom_id=row["custom_id"],
            kind=task.kind,
            title=task.heading,
            tier=row["tier"],
            model=record["model"],
            result_type=result.kind if result is not None else "missing",
            state="",
            base_commit=record["base_commit"],
            target_tests=list(task.target_tests),
        )
        if result is not None and result.completion is not None:
            try:
                self._succeeded(res, task, record, result.completion)
            except EscalateError as exc:
                # A problem of this result (git, the test command) must not hold up the others.
                res.state, res.detail, res.next_tier = (
                    "error",
                    f"{type(exc).__name__}: {exc}"[:1500],
                    res.tier,
                )
                self._queue(task, WAITING, res.tier, f"error while applying: {exc}"[:300], record)
        else:
            # Not billed, nothing learned: the task goes back on the same tier.
            why = _error_text(result) if result is not None else "missing from the results file"
            res.state = res.result_type
            res.detail = why
            res.next_tier = res.tier
            self._queue(task, WAITING, res.tier, f"{res.result_type}: {why}", record)
        self.queue.finish_request(
            batch_id,
            res.custom_id,
            state=res.state,
            result_type=res.result_type,
            detail=res.pull_request or res.branch or res.detail,
            cost=res.cost_usd,
            interactive_cost=res.interactive_usd,
            run_id=res.run_id,
        )
        return res

    def _queue(
        self, task: Task, state: str, tier: str | None, reason: str, record: dict, detail: str = ""
    ) -> None:
        self.queue.put(task.slug, kind=task.kind, title=task.title, state=state, tier=tier, reason=reason,
                       detail=detail or None, input_tokens=record.get("input_tokens"),
                       max_tokens=record.get("max_tokens"))  # fmt: skip

    def _succeeded(self, res: RequestResult, task: Task, record: dict, message: Completion) -> None:
        usage = message.usage
        res.cost_usd = self.prices.cost(res.model, usage, batch=True)
        res.interactive_usd = self.prices.cost(res.model, usage)
        top = (self.catalog or Catalog.static()).resolve(self.config.tiers[-1]).id
        directory = self.repo_root / self.config.log_dir / new_run_id(task.slug)
        log = RunLog(directory, self.prices, top, task.title)
        res.log_dir = str(log.path)
        # The same run directory and ledger rows as `escalate fix` writes, through the same hooks.
        recording = Recording(log, self.ledger)
        res.run_id = recording.run_id
        recording.start_ledger(task, complexity=record.get("complexity"), error_cost=record.get("error_cost"),
                               repo=self.repo_root, base_commit=record["base_commit"],
                               source=f"batch:{res.batch}")  # fmt: skip
        if record.get("reason"):
            recording.decision(Decision("start_tier", res.tier, record["reason"]))
        recording.call(call_record(run=res.run_id, tier=res.tier, role="oneshot", model=res.model,
                                   usage=usage, cost=res.cost_usd, request_id=message.request_id,
                                   stop_reason=message.stop_reason, batch=True))  # fmt: skip
        final = "error"
        attempts: list[AttemptRecord] = []
        batch_cost = res.cost_usd  # --escalate-now adds its own run's cost to res below
        try:
            verdict = self._prove(res, task, record, message)
            word = "pass" if verdict == "pass" else "fail"
            attempts.append(AttemptRecord(res.tier, res.model, 1, word, res.stage, res.detail, res.cost_usd))
            recording.attempt(attempts[0])
            if res.state == "stale":
                self._queue(task, RESOLVED, res.tier, res.detail, record)
            elif res.state == FIXED:
                self._queue(
                    task, FIXED, res.tier, "fixed by the batch", record, res.pull_request or res.branch or ""
                )
            else:
                self._escalate(res, task, record)
            final = {"stale": "cannot_reproduce", "failed": "escalated"}.get(res.state, res.state)
            if verdict != "pass" and res.state == FIXED:
                final = "escalated"  # the one-shot failed; the interactive run that fixed it has its own
        finally:
            branch = res.branch if attempts and attempts[0].verdict == "pass" else None
            proof = {"reproduction": res.reproduction, "no_test_reason": res.no_test_reason}  # the evidence
            recording.finish(Outcome(final, branch=branch, cost_usd=batch_cost, calls=1, attempts=attempts,
                                     log_dir=str(log.path), explanation=res.detail, **proof))  # fmt: skip

    def _prove(self, res: RequestResult, task: Task, record: dict, message: Completion) -> str:
        """Apply the edits in a fresh worktree and validate them; sets res.state/stage/detail/branch."""
        cfg = self.config
        with Workspace.create(self.repo_root, f"batch-{res.custom_id}", record["base_commit"]) as ws:
            baseline = run_baseline(ws.path, cfg.validate, list(task.target_tests))
            failing = set(baseline.failing_tests) | set(baseline.target_failures)
            targets = list(task.target_tests)
            if task.kind == "test":
                targets = [t for t in task.target_tests if t in failing]
                if not targets:
                    res.state, res.stage = "stale", "baseline"
                    res.detail = "cannot reproduce: the target tests pass at the base commit"
                    return "stale"
            # The same verdict rules as `escalate fix`: the judge's files from base, protected paths.
            ws.protected = ProtectedPaths(cfg.editor.protected_paths)
            judged = cfg.validate.verdict_from_base
            guard = JudgeFiles.of(ws, targets).refusal if judged else None
            editor = Editor(ws.path, cfg.editor.protected_paths, cfg.editor.max_view_chars,
                            file_lister=ws.files, write_guard=guard)  # fmt: skip
            applied = apply_response(message.content, editor)
            if not applied.ok:
                res.state, res.stage = "failed", "edit"
                res.detail = "edit: " + "; ".join(applied.errors)[:1500]
                return "fail"
            if task.kind == "issue" and not targets:
                targets = named_targets(task, failing)
                choice = testability(task, cfg.roles.test_writer.enabled)  # as `escalate fix` decides
                if not targets and not choice.reproduce:
                    res.no_test_reason = choice.reason
                elif not targets:
                    check, res.reproduction = reproduce_in_answer(ws, cfg, task.title, res.tier, res.model)
                    if res.reproduction is None:
                        res.state, res.stage = "failed", "reproduce"
                        res.detail = f"reproduce: {check.reason}"[:1500]
                        return "fail"
                    targets = list(res.reproduction.tests)
            res.target_tests = targets
            if judged:  # from the base as it is now (a reproduction test may have moved it)
                JudgeFiles.of(ws, targets).discard(ws)
            ws.discard_protected()
            tree = ws.tree_hash()
            verdict = validate(ws.path, ws.changed_files(), baseline, targets, cfg.validate)
            if not verdict.passed:
                res.state, res.stage = "failed", verdict.stage
                res.detail = f"{verdict.stage}: {verdict.reason}"[:1500]
                return "fail"
            left = still_present(record.get("check"), ws.path, cfg, list(task.target_tests))
            if left:
                res.state, res.stage = "failed", "finding"
                res.detail = "finding: still reported: " + "; ".join(left)[:1400]
                return "fail"
            commit_text = commit_message(task.title, targets, res.tier, res.model, applied.explanation)
            ws.commit(commit_text, tree=tree)  # what was judged, not what the test run wrote since
            if res.reproduction is not None:  # the evidence: the same tests, passing now
                res.reproduction.after_output = passing_run(ws.path, cfg, res.reproduction)
            res.branch = ws.branch
            res.state, res.stage, res.detail = FIXED, "ok", f"fixed on {ws.branch}"
        if not cfg.batch.combined_pr:
            self._publish(res, task)
        return "pass"

    def _publish(self, res: RequestResult, task: Task) -> None:
        res.pull_request, note = open_pull(self.repo_root, self.config, res.branch, task, res)
        if note:
            res.detail = f"{res.detail}; {note}"

    def _escalate(self, res: RequestResult, task: Task, record: dict) -> None:
        names = [t.name for t in self.config.tiers]
        index = names.index(res.tier) if res.tier in names else len(names) - 1
        if index + 1 >= len(names):
            res.state = NEEDS_HUMAN
            self._queue(task, NEEDS_HUMAN, res.tier, f"top tier failed: {res.detail}", record, res.detail)
            return
        nxt = names[index + 1]
        if not self.escalate_now:
            res.next_tier = nxt
            self._queue(task, WAITING, nxt, f"{res.tier} one-shot failed ({res.detail[:200]})", record)
            return
        outcome = run_task(task, self.repo_root, self.config.model_copy(update={"start_tier": nxt}),
                           provider=self.provider, catalog=self.catalog)  # fmt: skip
        res.escalated = outcome.to_json()
        spent = Decimal(str(outcome.cost_usd or 0))  # interactive calls cost the same in both columns
        res.cost_usd += spent
        res.interactive_usd += spent
        if outcome.outcome == "fixed":
            res.state, res.branch = FIXED, outcome.branch
            res.detail = f"fixed interactively from {nxt} on {outcome.branch}"
            self._publish(res, task)
            self._queue(
                task, FIXED, nxt, "fixed by --escalate-now", record, res.pull_request or res.branch or ""
            )
        else:
            res.state = NEEDS_HUMAN
            res.detail = f"--escalate-now from {nxt}: {outcome.outcome}: {outcome.explanation}"[:1500]
            self._queue(task, NEEDS_HUMAN, nxt, res.detail, record, res.detail)


def _by_base(results: list[RequestResult]) -> dict[str, list[RequestResult]]:
    """Fixed results grouped by base commit: only fixes made against one base combine cleanly."""
    groups: dict[str, list[RequestResult]] = {}
    for r in results:
        if r.state == FIXED and r.branch:
            groups.setdefault(r.base_commit, []).append(r)
    return groups


def _error_text(result: BatchItem) -> str:
    if result.kind != "errored":
        return "the request was not processed within the batch's 24-hour window" if result.kind == "expired" \
            else "the batch was canceled before this request ran"  # fmt: skip
    return result.error or "error"


__all__ = ["BatchError", "Collection", "RequestResult", "collect"]
