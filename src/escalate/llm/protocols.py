"""The two seams of the model layer, and what crosses them.

``ModelClient`` is what the ladder, the crew, a session and the roles call: a request in, a
metered reply out (the budget checked before the call, the call logged after it). The one
implementation is ``llm.client.MeteredClient``; unit tests may put any object of this shape in
its place.

``Provider`` is one model API. It owns every SDK call and every SDK object shape: what comes
out of it is escalate's own dataclasses (``Completion``, ``Stop``, ``Usage``, ``BatchInfo``,
``BatchItem``), and its failures are ``ProviderError``. The one implementation is
``llm.providers.anthropic.AnthropicProvider``; a second provider is one new module beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from escalate.errors import EscalateError

if TYPE_CHECKING:
    from escalate.llm.client import ModelReply, ModelRequest
    from escalate.llm.pricing import PriceTable, Usage


class Stop(StrEnum):
    """Why the model stopped, in escalate's words (the provider maps its own onto these)."""

    DONE = "done"  # the model ended its turn (or hit a stop sequence)
    TOOL_USE = "tool_use"  # it asks for tool calls
    CUT_OFF = "cut_off"  # max_tokens reached mid-answer
    PAUSED = "paused"  # the API paused a long turn; sending the conversation back resumes it
    REFUSAL = "refusal"  # the model declined
    CONTEXT_EXCEEDED = "context_exceeded"  # the conversation outgrew the context window


@dataclass
class Completion:
    """One successful try, as a provider answers it."""

    content: list[dict]  # blocks ready to go back into the conversation unchanged
    stop: Stop
    stop_reason: str | None  # the provider's own word, kept for calls.jsonl
    usage: Usage
    request_id: str | None
    refusal: str | None = None  # the provider's explanation of a refusal, when it gives one


class ProviderError(EscalateError):
    """A try that failed. ``billed`` says the API may have charged it (a body that did not parse,
    a connection lost after the request went out, a stream that broke off); ``usage`` is what it
    reported before failing, when anything; ``retryable`` says another try may succeed."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        status: int | None = None,
        retryable: bool = False,
        billed: bool = False,
        retry_after_s: float | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.status = status
        self.retryable = retryable
        self.billed = billed
        self.retry_after_s = retry_after_s
        self.usage = usage


@dataclass
class BatchInfo:
    """A Message Batch as the provider reports it."""

    id: str
    processing_status: str  # in_progress | canceling | ended
    request_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class BatchItem:
    """One result of a batch: ``kind`` is succeeded | errored | canceled | expired."""

    custom_id: str
    kind: str
    completion: Completion | None = None  # when succeeded
    error: str | None = None  # what the provider said, when errored


class Provider(Protocol):
    """One model API; every SDK call of escalate goes through an implementation of this."""

    name: str
    base_url: str  # where it sends requests (keys the Models API cache)

    def complete(self, request: ModelRequest) -> Completion:
        """One try, no retries. Raises ``ProviderError``."""
        ...

    def count_tokens(self, request: ModelRequest) -> int:
        """Input tokens of ``request`` on its model (free). Raises ``ProviderError``."""
        ...

    def list_models(self) -> list[dict]:
        """The Models API entries as plain JSON dicts. Raises ``ProviderError``."""
        ...

    def params(self, request: ModelRequest) -> dict:
        """The request body as this provider sends it (sized for the budget, kept for batches)."""
        ...

    def create_batch(self, items: list[tuple[str, dict]]) -> BatchInfo:
        """Submit ``(custom_id, params)`` pairs. A ``ProviderError`` with a status means
        the API refused (no batch exists); connection errors propagate as they are."""
        ...

    def retrieve_batch(self, batch_id: str) -> BatchInfo: ...

    def list_batches(self, limit: int) -> Iterator[BatchInfo]:
        """The account's batches, newest first."""
        ...

    def batch_results(self, batch_id: str) -> Iterator[BatchItem]: ...


class ModelClient(Protocol):
    """What the runner, crew, session and roles call."""

    prices: PriceTable

    def send(self, request: ModelRequest) -> ModelReply:
        """One call: ``BudgetExceeded`` before sending when it cannot be paid for, ``ModelCallError``
        when the API fails after the retries; every try is logged."""
        ...

    def count_tokens(self, request: ModelRequest) -> int:
        """Input tokens of ``request`` (free). Raises ``ModelCallError``."""
        ...
