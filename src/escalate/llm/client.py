"""The metered model client: the budget before each call, escalate's own retries, a record of every try.

``MeteredClient`` is the one ``ModelClient`` (``llm.protocols``): it sizes a request's worst case,
lowers its ``max_tokens`` to what the budget left can pay (never under ``MIN_USEFUL_MAX_TOKENS``)
or refuses it, sends it through a ``Provider`` (``llm.providers``), retries what may succeed on
a second try, and reports one ``CallRecord`` per try: a try the API may have billed without
saying what (a body that does not parse, a connection lost after sending) is charged at its
worst case, so no paid call is missing from calls.jsonl or the budget.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from escalate.errors import EscalateError, MissingCredentialError
from escalate.llm.protocols import ProviderError, Stop

if TYPE_CHECKING:
    from escalate.llm.catalog import Catalog, ModelInfo
    from escalate.llm.pricing import Budget, PriceTable, Usage
    from escalate.llm.protocols import Provider

# Server-side tokens the request JSON does not show (tool schemas of built-in tools, framing).
_HIDDEN_INPUT_TOKENS = 1_000
# The fewest output tokens a call is lowered to when the budget cannot pay the tier's max_tokens:
# room for a short explanation and one or two str_replace edits. Below it the call is refused.
MIN_USEFUL_MAX_TOKENS = 1_024
# Backoff between tries when the API names no wait: 0.5 s doubling, at most 8 s.
_BACKOFF_S, _BACKOFF_MAX_S = 0.5, 8.0

NO_KEY = (
    "No Anthropic API key. Set ANTHROPIC_API_KEY (https://console.anthropic.com/settings/keys), "
    "or run `escalate demo` to try it on the simulated API."
)


class ModelCallError(EscalateError):
    """The API refused or failed a call after the SDK's retries; carries the request id."""

    def __init__(self, message: str, request_id: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.status = status


def api_key(env: dict[str, str] | None = None) -> str | None:
    """The API key (or auth token) the SDK would use, None when there is none."""
    env = os.environ if env is None else env
    return env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN") or None


def require_api_key(env: dict[str, str] | None = None) -> str:
    """The API key the SDK would use, or MissingCredentialError saying how to set one."""
    key = api_key(env)
    if not key:
        raise MissingCredentialError(NO_KEY)
    return key


@dataclass
class ModelRequest:
    """One conversation state to send. ``messages`` hold plain dicts and are not modified."""

    model: ModelInfo
    system: str
    messages: list[dict]
    max_tokens: int
    tools: list[dict] = field(default_factory=list)
    effort: str | None = None
    thinking: dict | None = None
    tier: str = ""
    role: str = "implementer"
    cache: bool = True


@dataclass
class CallRecord:
    """One try of an API call as written to ``calls.jsonl`` (build it with ``call_record``)."""

    run: str
    tier: str
    role: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    thinking_tokens: int
    cost_usd: Decimal
    request_id: str | None
    duration_s: float
    stop_reason: str | None
    batch: bool = False
    usage: Usage | None = None
    outcome: str = "ok"  # "ok" | "error": the try failed (the error says how)
    error: str | None = None
    cost_estimated: bool = False  # billed but unreadable: charged at the try's worst case
    max_tokens: int | None = None  # when the budget lowered the tier's max_tokens to this

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("usage")
        out["cost_usd"] = round(float(self.cost_usd), 6)
        out["duration_s"] = round(self.duration_s, 3)
        if self.usage is not None:
            out["cache_write_5m"] = self.usage.cache_write_5m
            out["cache_write_1h"] = self.usage.cache_write_1h
        return out


def call_record(
    *,
    run: str,
    tier: str,
    role: str,
    model: str,
    usage: Usage | None,
    cost: Decimal,
    request_id: str | None,
    duration_s: float = 0.0,
    stop_reason: str | None = None,
    batch: bool = False,
    **extra: Any,
) -> CallRecord:
    """The one place a CallRecord is made: token fields from ``usage`` (zeros when there is none)."""
    from escalate.llm.pricing import Usage

    u = usage or Usage()
    return CallRecord(
        run=run, tier=tier, role=role, model=model, input_tokens=u.input_tokens,
        output_tokens=u.output_tokens, cache_write_tokens=u.cache_write_tokens,
        cache_read_tokens=u.cache_read, thinking_tokens=u.thinking_tokens, cost_usd=cost,
        request_id=request_id, duration_s=duration_s, stop_reason=stop_reason, batch=batch, usage=usage,
        **extra,
    )  # fmt: skip


@dataclass
class ModelReply:
    content: list[dict]  # blocks ready to go back into the conversation unchanged
    stop: Stop
    usage: Usage
    record: CallRecord
    refusal: str | None = None  # the API's explanation of a refusal, when it gives one

    @property
    def tool_uses(self) -> list[dict]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    @property
    def text(self) -> str:
        return "\n".join(b["text"] for b in self.content if b.get("type") == "text")


def estimate_input_tokens(params: dict) -> int:
    """A deliberately high local estimate of a provider's request body: chars / 3 plus overhead."""
    from escalate.llm.providers.anthropic import body_size

    return math.ceil(body_size(params) / 3) + _HIDDEN_INPUT_TOKENS


class MeteredClient:
    """Sends requests through a ``Provider`` (by default Anthropic's, reading ``ANTHROPIC_BASE_URL`` /
    ``ANTHROPIC_API_KEY``), paying for each from ``budget`` and reporting each try to ``on_call``.
    ``decide(kind, choice, reason)`` hears when the budget lowers a call's max_tokens."""

    def __init__(
        self,
        catalog: Catalog,
        prices: PriceTable,
        budget: Budget,
        on_call: Callable[[CallRecord], None],
        *,
        run: str = "",
        max_retries: int = 2,
        provider: Provider | None = None,
        decide: Callable[[str, str, str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.catalog = catalog
        self.prices = prices
        self.budget = budget
        self.on_call = on_call
        self.run = run
        self.max_retries = max_retries
        self.decide = decide
        self.sleep = sleep
        self.calls = 0
        self._lowered: set[tuple[str, str]] = set()  # (tier, role) already told of a lowered max_tokens
        if provider is None:
            from escalate.llm.providers import default_provider

            require_api_key()
            provider = default_provider()
        self.provider = provider

    def worst_case(self, request: ModelRequest, params: dict | None = None) -> Decimal:
        params = params if params is not None else self.provider.params(request)
        tokens = estimate_input_tokens(params)
        if request.cache:  # with breakpoints the whole prompt may be a cache write, dearer than input
            return self.prices.worst_case(request.model.id, 0, request.max_tokens, cache_write_tokens=tokens)
        return self.prices.worst_case(request.model.id, tokens, request.max_tokens)

    def affordable(self, request: ModelRequest) -> ModelRequest:
        """``request``, or a copy with the max_tokens the budget left can pay at worst (not under
        MIN_USEFUL_MAX_TOKENS); BudgetExceeded when even that is too dear."""
        worst = self.worst_case(request)
        if self.budget.spent + worst <= self.budget.limit:
            return request
        floor = min(MIN_USEFUL_MAX_TOKENS, request.max_tokens)
        prompt = self.worst_case(dataclasses.replace(request, max_tokens=0))
        per_token = self.worst_case(dataclasses.replace(request, max_tokens=1)) - prompt
        fits = int((self.budget.remaining - prompt) / per_token) if per_token > 0 else 0
        if fits < floor:
            self.budget.check(worst)  # raises BudgetExceeded with the tier's full worst case
        lowered = dataclasses.replace(request, max_tokens=fits)
        if self.decide is not None and (request.tier, request.role) not in self._lowered:
            self._lowered.add((request.tier, request.role))  # later calls say it in calls.jsonl
            self.decide(
                "max_tokens",
                f"{request.tier or request.model.id}: {request.max_tokens:,} -> {fits:,}",
                f"{self.budget.remaining:.4f} USD left of the budget pays at most {fits:,} output tokens "
                f"on {request.model.id} (worst case at {request.max_tokens:,}: {worst:.4f} USD); "
                f"the call is sent with max_tokens {fits:,} instead of refused",
            )
        return lowered

    def count_tokens(self, request: ModelRequest) -> int:
        try:
            return self.provider.count_tokens(request)
        except ProviderError as exc:
            raise ModelCallError(str(exc), exc.request_id, exc.status) from exc

    def send(self, request: ModelRequest) -> ModelReply:
        """One call, tried up to 1 + max_retries times. Raises BudgetExceeded before a try that the
        budget cannot pay, ModelCallError when the last try fails or a failure is not worth a retry."""
        tries = 0
        while True:
            tries += 1
            sent = self.affordable(request)
            started = time.monotonic()
            try:
                done = self.provider.complete(sent)
            except ProviderError as exc:
                cost, estimated = self._failed_try_cost(sent, exc)
                seen = exc.usage or _no_usage()  # what it reported before failing; zeros for a refusal
                self._report(sent, request, seen, None, cost, exc.request_id, time.monotonic() - started,
                             outcome="error", error=str(exc)[:500], cost_estimated=estimated)  # fmt: skip
                if not exc.retryable or tries > self.max_retries:
                    how = f" ({tries} tries, each in calls.jsonl)" if tries > 1 else ""
                    raise ModelCallError(f"{exc}{how}", exc.request_id, exc.status) from exc
                self.sleep(_backoff(tries, exc.retry_after_s))
                continue
            cost = self.prices.cost(sent.model.id, done.usage)
            record = self._report(sent, request, done.usage, done.stop_reason, cost, done.request_id,
                                  time.monotonic() - started)  # fmt: skip
            return ModelReply(done.content, done.stop, done.usage, record, done.refusal)

    def _failed_try_cost(self, sent: ModelRequest, exc: ProviderError) -> tuple[Decimal, bool]:
        """What a failed try is charged, and whether that is an estimate: its worst case when the API
        may have billed it without a final usage (what a broken stream showed is only a lower bound),
        else nothing (a refused request)."""
        if exc.billed:
            return self.worst_case(sent), True
        return Decimal(0), False

    def _report(
        self,
        sent: ModelRequest,
        asked: ModelRequest,
        usage: Usage | None,
        stop_reason: str | None,
        cost: Decimal,
        request_id: str | None,
        duration: float,
        **extra: Any,
    ) -> CallRecord:
        self.budget.add(cost)
        self.calls += 1
        record = call_record(
            run=self.run, tier=sent.tier, role=sent.role, model=sent.model.id,
            usage=usage, cost=cost, request_id=request_id, duration_s=duration, stop_reason=stop_reason,
            max_tokens=sent.max_tokens if sent.max_tokens != asked.max_tokens else None, **extra,
        )  # fmt: skip
        self.on_call(record)
        return record


def _no_usage() -> Usage:
    from escalate.llm.pricing import Usage

    return Usage()


def _backoff(tries: int, retry_after_s: float | None) -> float:
    if retry_after_s is not None and retry_after_s >= 0:
        return min(retry_after_s, 60.0)
    return min(_BACKOFF_S * 2 ** (tries - 1), _BACKOFF_MAX_S) * (1 - 0.25 * random.random())
