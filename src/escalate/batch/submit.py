"""Nightly maintenance over the Message Batches API: submit, reconcile, status.

``submit`` scans a clean worktree of the base commit (:mod:`escalate.batch.discovery`), routes
each task to its tier (mechanical work starts on the cheapest; a task that failed last
night goes one tier up, see :mod:`escalate.batch.queue`), builds one one-shot request per
task (:mod:`escalate.batch.oneshot`, params from ``llm.build_params`` so the same capability
rules apply) and sends them as one batch at half price. The ledger gets an *intent* row
holding every planned ``custom_id`` before the create call and the batch id right after
it, so a crash in between cannot orphan a paid batch: :func:`reconcile` finds it again
by its custom_id set. ``collect`` lives in :mod:`escalate.batch.collect`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from escalate.batch.queue import IN_BATCH, RESOLVED, WAITING, Queue
from escalate.errors import EscalateError
from escalate.llm.pricing import fmt_usd

if TYPE_CHECKING:
    from escalate.batch.discovery import Scan
    from escalate.config import Config
    from escalate.llm.catalog import Catalog
    from escalate.llm.pricing import PriceTable
    from escalate.llm.protocols import BatchInfo, Provider
    from escalate.records.ledger import Ledger
    from escalate.routing.rules import Classification
    from escalate.task import Task
    from escalate.validation.baseline import Baseline

SUBMITTING, SUBMITTED, COLLECTED, FAILED, ABANDONED = (
    "submitting",
    "submitted",
    "collected",
    "failed",
    "abandoned",
)
# How many of the account's newest batches reconcile() looks through for an unconfirmed submit.
RECONCILE_LOOKBACK = 200


class BatchError(EscalateError):
    """A batch could not be submitted or collected; the message says what to do."""


@dataclass
class Planned:
    """One request of the next batch."""

    custom_id: str
    task: Task
    tier: str
    model: str
    params: dict
    input_tokens: int  # local estimate (high on purpose)
    max_tokens: int
    worst_case: Decimal  # at batch prices
    check: dict | None = None
    reason: str = ""
    klass: Classification | None = None  # for the ledger's task class

    def record(self, base_commit: str) -> dict:
        """What batch_tasks.task_json holds: enough to apply and judge the result later."""
        from dataclasses import asdict

        return {
            "task": asdict(self.task),
            "model": self.model,
            "check": self.check,
            "base_commit": base_commit,
            "input_tokens": self.input_tokens,
            "max_tokens": self.max_tokens,
            "reason": self.reason,
            "complexity": self.klass.complexity if self.klass is not None else None,
            "error_cost": self.klass.error_cost if self.klass is not None else None,
        }


@dataclass
class Submission:
    """What ``submit`` did (or, with ``dry_run``, would do)."""

    base_commit: str = ""
    planned: list[Planned] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (slug, why)
    local_id: str | None = None
    api_batch_id: str | None = None
    dry_run: bool = False
    reconciled: list[str] = field(default_factory=list)

    @property
    def worst_case(self) -> Decimal:
        return sum((p.worst_case for p in self.planned), Decimal(0))

    def to_json(self) -> dict:
        return {
            "base_commit": self.base_commit,
            "batch": self.local_id,
            "api_batch_id": self.api_batch_id,
            "dry_run": self.dry_run,
            "worst_case_usd": round(float(self.worst_case), 6),
            "requests": [
                {
                    "custom_id": p.custom_id,
                    "kind": p.task.kind,
                    "title": p.task.title,
                    "tier": p.tier,
                    "model": p.model,
                    "input_tokens_estimate": p.input_tokens,
                    "max_tokens": p.max_tokens,
                    "worst_case_usd": round(float(p.worst_case), 6),
                    "reason": p.reason,
                }
                for p in self.planned
            ],
            "skipped": [{"slug": s, "why": w} for s, w in self.skipped],
            "reconciled": self.reconciled,
        }


def open_ledger(repo_root: Path, config: Config) -> Ledger:
    from escalate.records.ledger import Ledger

    ledger = Ledger.for_repo(repo_root, config)
    if ledger is None:
        raise BatchError(
            "The nightly batch keeps its state in the ledger, which is disabled. "
            "Set ledger.enabled: true in .escalate.yml."
        )
    return ledger


def make_provider(provider: Provider | None = None) -> Provider:
    """The model provider (Anthropic's, ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY from the environment)
    unless given."""
    if provider is not None:
        return provider
    from escalate.llm.client import require_api_key
    from escalate.llm.providers import default_provider

    require_api_key()
    return default_provider()


# ------------------------------------------------------------------------ planning


def _test_first(task: Task, config: Config, failing: set[str]) -> bool:
    """Whether the one-shot answer must carry a reproduction test: an issue none of whose named tests
    fails at base, that a test can prove, with the test writer on (as ``batch.collect`` judges it)."""
    from escalate.routing.testability import named_targets, testability

    if task.kind != "issue" or task.target_tests or named_targets(task, failing):
        return False
    return testability(task, config.roles.test_writer.enabled).reproduce


def _baseline(failing: dict[str, str], task: Task) -> Baseline:
    """What the router sees of the base: the scan's failing tests (lint is not a routing signal)."""
    from collections import Counter

    from escalate.validation.stages import Baseline

    targets = {t: failing[t] for t in task.target_tests if t in failing}
    return Baseline(failing_tests=set(failing), lint_findings=Counter(), target_failures=targets)


def plan_requests(
    root: Path,
    config: Config,
    scan: Scan,
    queue: Queue,
    catalog: Catalog,
    prices: PriceTable,
    ledger: Ledger | None = None,
    provider: Provider | None = None,
) -> tuple[list[Planned], list[tuple[str, str]]]:
    """Route every found task and build its request; the first ``batch.max_tasks`` go out.

    Tasks a failed fix moved up a tier come first: they already carry a night's work. Request
    bodies are ``provider``'s (Anthropic's when None, as for a dry run without a key).
    """
    from escalate.agent.editor import Editor
    from escalate.batch.oneshot import build_request
    from escalate.llm.client import estimate_input_tokens
    from escalate.llm.providers import request_params
    from escalate.routing.route import route

    in_flight = queue.in_flight()
    skipped: list[tuple[str, str]] = []
    ordered: list[tuple[Task, str | None, str]] = []
    seen: set[str] = set()
    for task in scan.tasks:
        entry = queue.get(task.slug)
        if task.slug in seen:
            skipped.append(
                (task.slug, "found twice in this scan; sent once (custom_ids are unique per batch)")
            )
            continue
        seen.add(task.slug)
        if task.slug in in_flight:
            skipped.append((task.slug, "in a batch that has not been collected yet"))
        elif queue.held(entry, config.batch.hold_days):
            skipped.append(
                (task.slug, f"{entry.state} on {entry.updated_at[:10]} ({entry.detail or ''})".strip())
            )
        elif entry is not None and entry.state == WAITING:
            ordered.insert(
                sum(1 for _, t, _ in ordered if t is not None),
                (task, entry.tier, entry.reason or "re-queued"),
            )
        else:
            ordered.append((task, None, ""))
    planned: list[Planned] = []
    limit = Decimal(str(config.budget.max_cost_usd))  # per task, as for `escalate fix`
    editor = Editor(root, config.editor.protected_paths, config.editor.max_view_chars)
    for task, queued_tier, why in ordered:
        if len(planned) >= config.batch.max_tasks:
            skipped.append((task.slug, f"over batch.max_tasks={config.batch.max_tasks}; next batch"))
            continue
        plan = route(task, _baseline(scan.failing, task), config, catalog, ledger, root=root)
        names = [t.name for t in plan.tiers]  # the route may leave out tiers; index by name
        index = max(plan.start, names.index(queued_tier) if queued_tier in names else 0)
        while index < len(plan.tiers) and not plan.tiers[index].model.capabilities.batch:
            index += 1  # a model without batch support cannot take the request; the next tier can
        if index >= len(plan.tiers):
            skipped.append((task.slug, "no tier from its start tier up has a model that supports batches"))
            continue
        tier = plan.tiers[index]
        reason = why or next((d.reason for d in plan.decisions if d.kind == "start_tier"), "")
        failures = {t: scan.failing[t] for t in task.target_tests if t in scan.failing}
        # A model's output limit caps max_tokens: the API would answer a larger one with an error.
        max_tokens = min(config.batch.max_tokens, tier.model.max_output or config.batch.max_tokens)
        test_first = _test_first(task, config, set(scan.failing))
        request = build_request(task, root, tier, editor, failures, max_tokens, test_first=test_first)
        # No cache breakpoints: every request's context is its own, so a cache write would only cost.
        request.cache = False
        params = provider.params(request) if provider is not None else request_params(request)
        tokens = estimate_input_tokens(params)
        worst = prices.worst_case(tier.model.id, tokens, request.max_tokens, batch=True)
        if worst > limit:
            skipped.append(
                (task.slug, f"worst case {fmt_usd(worst)} on {tier.name} exceeds budget.max_cost_usd")
            )
            continue
        planned.append(
            Planned(
                custom_id=task.slug,
                task=task,
                tier=tier.name,
                model=tier.model.id,
                params=params,
                input_tokens=tokens,
                max_tokens=request.max_tokens,
                worst_case=worst,
                check=scan.checks.get(task.slug),
                reason=reason,
                klass=plan.classification,
            )
        )
    return planned, skipped


def _resolve_gone(queue: Queue, found: set[str], base_commit: str) -> None:
    """Waiting tasks the scan no longer finds were fixed by someone else: nothing to send."""
    for entry in queue.entries(WAITING):
        if entry.slug not in found:
            queue.put(
                entry.slug,
                kind=entry.kind,
                title=entry.title,
                state=RESOLVED,
                reason=f"no longer found at {base_commit[:10]}",
            )


# ------------------------------------------------------------------------ submit


def submit(
    repo_root: Path,
    config: Config,
    *,
    provider: Provider | None = None,
    catalog: Catalog | None = None,
    base: str = "HEAD",
    dry_run: bool = False,
    issues: list[Task] | None = None,
    on_created: Callable[[BatchInfo], None] | None = None,
) -> Submission:
    """Scan, plan and (unless `dry_run`) send the next batch. `on_created(batch)` runs between the
    create call and the ledger update; tests use it to simulate a crash at the worst moment."""
    from escalate.batch.discovery import github_issues
    from escalate.batch.discovery import scan as run_scan
    from escalate.llm.catalog import Catalog
    from escalate.llm.pricing import PriceTable
    from escalate.workspace.worktree import Workspace, ignore_log_dir

    repo_root = Path(repo_root).resolve()
    catalog = catalog or Catalog.static()
    prices = PriceTable.load(config.prices)
    ignore_log_dir(repo_root)
    out = Submission(dry_run=dry_run)
    with open_ledger(repo_root, config) as ledger:
        queue = Queue(ledger)
        if not dry_run:
            provider = make_provider(provider)
            out.reconciled = reconcile(ledger, provider)
        if issues is None:
            issues = github_issues(config)
        with Workspace.create(repo_root, "nightly-scan", base) as ws:
            found = run_scan(ws.path, config, ws.base_commit, issues=issues)
            out.base_commit = ws.base_commit
            out.planned, out.skipped = plan_requests(
                ws.path, config, found, queue, catalog, prices, ledger, provider
            )
        if dry_run:
            return out
        _resolve_gone(queue, {t.slug for t in found.tasks}, out.base_commit)
        if not out.planned:
            return out
        out.local_id = f"nightly-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        # The intent, with every planned custom_id, is durable BEFORE anything is sent.
        ledger.record_batch_intent(
            out.local_id, [(p.custom_id, p.record(out.base_commit), p.tier) for p in out.planned]
        )
        for p in out.planned:
            queue.put(
                p.custom_id,
                kind=p.task.kind,
                title=p.task.title,
                state=IN_BATCH,
                tier=p.tier,
                reason=p.reason,
                model=p.model,
                input_tokens=p.input_tokens,
                max_tokens=p.max_tokens,
                detail=out.local_id,
            )
        batch = _create(provider, ledger, queue, out)
        if on_created is not None:
            on_created(batch)
        ledger.update_batch(out.local_id, status=SUBMITTED, api_batch_id=batch.id)
        out.api_batch_id = batch.id
    return out


def _create(provider: Provider, ledger: Ledger, queue: Queue, out: Submission) -> BatchInfo:
    from escalate.llm.protocols import ProviderError

    try:
        return provider.create_batch([(p.custom_id, p.params) for p in out.planned])
    except ProviderError as exc:
        # The API answered no: no batch exists, so the tasks simply wait for the next run.
        ledger.update_batch(out.local_id, status=FAILED, ended=True)
        _requeue_all(ledger, queue, out.local_id, f"batch create refused: HTTP {exc.status}")
        raise BatchError(f"{exc}. The tasks stay queued for the next run.") from exc
    # Connection errors and timeouts propagate: the batch may exist, and the intent row lets
    # the next run's reconcile() find it.


def _requeue_all(ledger: Ledger, queue: Queue, local_id: str, why: str) -> None:
    for row in ledger.db.execute(
        "SELECT custom_id, task_json, tier FROM batch_tasks WHERE batch_id = ? AND state = 'pending'",
        (local_id,),
    ):
        task = json.loads(row["task_json"])["task"]
        queue.put(row["custom_id"], kind=task["kind"], title=task["title"], state=WAITING, tier=row["tier"],
                  reason=why)  # fmt: skip
        ledger.update_batch_task(local_id, row["custom_id"], state="requeued")


# ------------------------------------------------------------------------ reconcile


def reconcile(ledger: Ledger, provider: Provider) -> list[str]:
    """Settle intents left by a submit that died between the ledger write and the batch id.

    An intent's fingerprint is its set of custom_ids. Among the account's newest batches
    that the ledger does not know, one with the same request count whose results carry
    exactly that set is the lost batch: it is adopted. A matching batch still in progress
    cannot be verified yet, so the intent waits for the next run. When no batch could be
    it, the create never happened and the tasks go back to the queue.
    """
    intents = ledger.batches(SUBMITTING)
    if not intents:
        return []
    known = {b["api_batch_id"] for b in ledger.batches() if b["api_batch_id"]}
    candidates = []
    for seen, batch in enumerate(provider.list_batches(limit=100)):
        if seen >= RECONCILE_LOOKBACK:
            break  # newest first: a lost batch is among the last few created
        if batch.id not in known:
            candidates.append(batch)
    notes = []
    queue = Queue(ledger)
    for intent in intents:
        wanted = {t["custom_id"] for t in intent["tasks"]}
        same_size = [b for b in candidates if sum(b.request_counts.values()) == len(wanted)]
        adopted, unsure = None, []
        for batch in same_size:
            if batch.processing_status != "ended":
                unsure.append(batch.id)
                continue
            ids = {r.custom_id for r in provider.batch_results(batch.id)}
            if ids == wanted:
                adopted = batch
                break
        if adopted is not None:
            candidates.remove(adopted)
            ledger.update_batch(intent["id"], status=SUBMITTED, api_batch_id=adopted.id)
            notes.append(f"{intent['id']}: found its batch {adopted.id} (same custom_ids); adopted")
        elif unsure:
            notes.append(f"{intent['id']}: unconfirmed; batch(es) {', '.join(unsure)} still in progress")
        else:
            ledger.update_batch(intent["id"], status=ABANDONED, ended=True)
            _requeue_all(ledger, queue, intent["id"], "its batch was never created")
            notes.append(f"{intent['id']}: no batch was created; its {len(wanted)} task(s) are queued again")
    return notes


# ------------------------------------------------------------------------ status


def status(
    repo_root: Path, config: Config, *, provider: Provider | None = None, prices: PriceTable | None = None
) -> dict:
    """Batches in flight (with live counts when a client is at hand), the queue, its worst case."""
    from escalate.llm.pricing import PriceTable

    prices = prices or PriceTable.load(config.prices)
    with open_ledger(Path(repo_root).resolve(), config) as ledger:
        queue = Queue(ledger)
        flight = []
        for b in ledger.batches():
            if b["status"] not in (SUBMITTING, SUBMITTED):
                continue
            entry = {
                "batch": b["id"],
                "api_batch_id": b["api_batch_id"],
                "status": b["status"],
                "requests": b["request_count"],
                "submitted_at": b["submitted_at"],
                "age_hours": round(_age_hours(b["submitted_at"]), 2),
                "counts": None,
                "processing_status": None,
            }
            if provider is not None and b["api_batch_id"]:
                remote = provider.retrieve_batch(b["api_batch_id"])
                entry["processing_status"] = remote.processing_status
                entry["counts"] = dict(remote.request_counts)
            flight.append(entry)
        waiting = []
        total = Decimal(0)
        for e in queue.entries(WAITING):
            worst = None
            if e.model and e.max_tokens:
                worst = prices.worst_case(e.model, e.input_tokens or 0, e.max_tokens, batch=True)
                total += worst
            waiting.append(
                {
                    "slug": e.slug,
                    "kind": e.kind,
                    "title": e.title,
                    "tier": e.tier,
                    "reason": e.reason,
                    "worst_case_usd": round(float(worst), 6) if worst is not None else None,
                }
            )
        held = [
            {"slug": e.slug, "state": e.state, "title": e.title, "detail": e.detail, "since": e.updated_at}
            for e in queue.entries("fixed", "needs_human")
        ]
    return {
        "in_flight": flight,
        "waiting": waiting,
        "queued_worst_case_usd": round(float(total), 6),
        "held": held,
    }


def _age_hours(stamp: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(stamp)).total_seconds() / 3600
