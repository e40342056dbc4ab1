"""The Anthropic provider: every call escalate makes through the ``anthropic`` SDK, and every SDK
object it reads, live here. What leaves this module is escalate's own types (``Completion``,
``Stop``, ``Usage``, ``BatchInfo``, ``BatchItem``, ``ProviderError``).

Request bodies follow the model's capabilities (``ModelInfo.capabilities``), never its name:
effort only where the model takes it, ``thinking.enabled`` only where it exists (``adaptive``
otherwise), no forced ``tool_choice``, no prefill, no sampling parameters. The SDK's own retries
are off (``max_retries=0``): ``MeteredClient`` retries, so that every try is logged and paid for.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from escalate.llm.protocols import BatchInfo, BatchItem, Completion, ProviderError, Stop

if TYPE_CHECKING:  # the SDK's types, for the seams below; the SDK itself is imported where it is called
    import anthropic
    from anthropic.lib.streaming import MessageStream
    from anthropic.types import ContentBlock, Message
    from anthropic.types.messages import MessageBatch, MessageBatchErroredResult

    from escalate.llm.client import ModelRequest
    from escalate.llm.pricing import Usage

# The SDK refuses non-streaming requests that could take over 10 minutes (128k tokens per hour).
STREAMING_THRESHOLD = 21_333
CACHE = {"type": "ephemeral"}
STOPS = {
    "end_turn": Stop.DONE,
    "stop_sequence": Stop.DONE,
    "tool_use": Stop.TOOL_USE,
    "max_tokens": Stop.CUT_OFF,
    "pause_turn": Stop.PAUSED,
    "refusal": Stop.REFUSAL,
    "model_context_window_exceeded": Stop.CONTEXT_EXCEEDED,
}


# What the SDK (and its HTTP client) read from the environment when a client is made.
_CLIENT_ENV = (
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY",
    "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy", "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)  # fmt: skip
_shared: dict[tuple[str | None, ...], Any] = {}
_shared_lock = threading.Lock()
_preloading: set[tuple[str | None, ...]] = set()  # environments whose client a thread is making


def preload_sdk() -> None:
    """Import the SDK and make the shared client on a background thread, once per process and
    environment. ``escalate fix`` starts it before anything else (``cli.main``): the import (a
    second or more of CPU: thousands of modules) runs while the main thread loads the config, sets
    up the worktree and waits on the baseline's test run, instead of after them; a run that stops
    before any call has only spent idle CPU on it. The client's platform headers are made here too
    (the SDK runs ``file -b`` on the interpreter for them), not in the first call."""
    key = _env_key()
    with _shared_lock:
        if key in _preloading:
            return
        _preloading.add(key)

    def load() -> None:
        # The cyclic collector is off while the SDK's thousands of modules and classes are made: it
        # would run about 300 times over objects that live as long as the process. What exists then
        # is frozen (left out of later collections; reference counting still frees it), or the first
        # collection after would walk it all at once. It is one switch for the process: back on after.
        # Only for the SDK's first import in the process (a test session has it already).
        fresh = "anthropic" not in sys.modules
        collecting = gc.isenabled()
        if fresh:
            gc.disable()
        try:
            shared_client().default_headers  # noqa: B018 - made now, cached by the SDK for every call
        except Exception:  # noqa: BLE001 - the real use, where the SDK is needed, reports it
            pass
        finally:
            if fresh:
                gc.freeze()
                if collecting:
                    gc.enable()

    threading.Thread(target=load, name="escalate-sdk-import", daemon=True).start()


def _env_key() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in _CLIENT_ENV)


def shared_client() -> anthropic.Anthropic:
    """One SDK client per environment it reads (key, base URL, proxies, CA files), made once per
    process: every provider derives its own (``with_options``) and shares its HTTP connection
    pool and TLS context, whose making is most of a new client's cost."""
    import anthropic  # noqa: F401 - outside the lock: the import system orders concurrent imports

    key = _env_key()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = sdk_client()
        return _shared[key]


def sdk_client(**kwargs: Any) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` (ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY from the environment
    unless given), with the SDK's retries off unless asked for."""
    import anthropic

    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(**kwargs)


class AnthropicProvider:
    """The Messages, Token Counting, Models and Message Batches APIs through one SDK client."""

    name = "anthropic"

    def __init__(self, sdk: anthropic.Anthropic | None = None, *, timeout: float | None = None) -> None:
        if sdk is None:
            sdk = shared_client()
        # A client handed in by a test keeps its base_url; a timeout asked for is this provider's own.
        self.sdk = sdk.with_options(max_retries=0, **({"timeout": timeout} if timeout else {}))

    @property
    def base_url(self) -> str:
        return str(self.sdk.base_url)

    def params(self, request: ModelRequest) -> dict[str, Any]:
        return build_params(request)

    # -- messages ------------------------------------------------------------------------------

    def complete(self, request: ModelRequest) -> Completion:
        import anthropic

        params = build_params(request)
        request_id, stream = None, None
        try:
            if request.max_tokens > STREAMING_THRESHOLD:
                with self.sdk.messages.stream(**params) as stream:
                    request_id = stream.request_id
                    message = stream.get_final_message()
            else:
                raw = self.sdk.messages.with_raw_response.create(**params)
                request_id = raw.request_id
                message = raw.parse()  # a 200 body that is not JSON raises here, request id in hand
            return completion(message, request_id)
        except anthropic.APIStatusError as exc:
            raise _status_error(exc, request.model.id, _usage_so_far(stream)) from exc
        except anthropic.APIConnectionError as exc:
            sent = _was_sent(exc)
            raise ProviderError(
                f"The Anthropic API call for {request.model.id} failed: {exc} "
                f"({'after the request was sent' if sent else 'before it was sent'}). "
                "Check ANTHROPIC_BASE_URL and your network.",
                request_id=request_id,
                retryable=True,
                billed=sent,
                usage=_usage_so_far(stream),
            ) from exc
        except (ValueError, TypeError, KeyError, AttributeError, anthropic.APIError) as exc:
            # A 200 whose body does not parse (or lacks a message's fields): billed, unreadable.
            raise ProviderError(
                f"The Anthropic API answered {request.model.id} with a body that is not a message "
                f"({type(exc).__name__}: {str(exc)[:200]}) (request id {request_id})",
                request_id=request_id,
                status=200,
                billed=True,
                usage=_usage_so_far(stream),
            ) from exc

    def count_tokens(self, request: ModelRequest) -> int:
        import anthropic

        params = build_params(request)
        params.pop("max_tokens")  # count_tokens takes no max_tokens (a 400)
        try:
            return int(self.sdk.messages.count_tokens(**params).input_tokens)
        except anthropic.APIStatusError as exc:
            raise _status_error(exc, request.model.id) from exc
        except anthropic.APIError as exc:
            raise ProviderError(f"count_tokens failed: {type(exc).__name__}: {exc}") from exc

    # -- models --------------------------------------------------------------------------------

    def list_models(self) -> list[dict]:
        import anthropic

        try:  # the SDK pages through has_more
            return [m.model_dump(mode="json") for m in self.sdk.models.list(limit=1000)]
        except anthropic.APIError as exc:
            raise ProviderError(f"Models API unavailable ({type(exc).__name__}: {exc})") from exc

    # -- message batches -----------------------------------------------------------------------

    def create_batch(self, items: list[tuple[str, dict]]) -> BatchInfo:
        import anthropic

        requests = [{"custom_id": cid, "params": params} for cid, params in items]
        try:
            return _batch_info(self.sdk.messages.batches.create(requests=requests))
        except anthropic.APIStatusError as exc:
            raise ProviderError(
                f"The Message Batches API refused the batch (HTTP {exc.status_code}): {exc.message}",
                request_id=exc.request_id,
                status=exc.status_code,
            ) from exc
        # Connection errors propagate as they are: the batch may exist (reconcile finds it).

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        return _batch_info(self.sdk.messages.batches.retrieve(batch_id))

    def list_batches(self, limit: int) -> Iterator[BatchInfo]:
        for batch in self.sdk.messages.batches.list(limit=limit):
            yield _batch_info(batch)

    def batch_results(self, batch_id: str) -> Iterator[BatchItem]:
        for item in self.sdk.messages.batches.results(batch_id):
            result = item.result
            if result.type == "succeeded":
                message = result.message
                yield BatchItem(
                    item.custom_id, "succeeded", completion(message, getattr(message, "id", None))
                )
            elif result.type == "errored":
                yield BatchItem(item.custom_id, "errored", error=_batch_error(result))
            else:
                yield BatchItem(item.custom_id, result.type)


def _was_sent(exc: Exception) -> bool:
    """Whether a transport error came after the request left (the API may have billed it). Failing
    to connect at all is the transport's ConnectError / ConnectTimeout (named, not imported: the
    SDK's HTTP library is its own business)."""
    return type(exc.__cause__).__name__ not in ("ConnectError", "ConnectTimeout")


def completion(message: Message, request_id: str | None) -> Completion:
    """An SDK ``Message`` as escalate's ``Completion``."""
    from escalate.llm.pricing import Usage

    if message.usage is None or message.content is None:
        raise ValueError("the message has no usage or no content")
    details = message.stop_details.model_dump(mode="json") if getattr(message, "stop_details", None) else {}
    return Completion(
        content=[p for p in (block_to_param(b) for b in message.content) if p is not None],
        stop=STOPS.get(message.stop_reason or "end_turn", Stop.DONE),
        stop_reason=message.stop_reason,
        usage=Usage.from_api(message.usage),
        request_id=request_id,
        refusal=(details or {}).get("explanation"),
    )


def _usage_so_far(stream: MessageStream | None) -> Usage | None:
    """What a broken stream reported before it broke (message_start's input, the output so far)."""
    from escalate.llm.pricing import Usage

    snapshot = stream._current_snapshot_or_none() if stream is not None else None
    return Usage.from_api(snapshot.usage) if snapshot is not None and snapshot.usage else None


def _status_error(exc: anthropic.APIStatusError, model_id: str, usage: Usage | None = None) -> ProviderError:
    # A 200 here is an `error` event inside a stream that had started well.
    how = "broke off mid-stream" if exc.status_code == 200 else f"answered {exc.status_code}"
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    should = headers.get("x-should-retry")
    retryable = should == "true" or (should != "false" and (exc.status_code in (200, 408, 409, 429)
                                                            or exc.status_code >= 500))  # fmt: skip
    return ProviderError(
        f"The Anthropic API {how} for {model_id}: "
        f"{getattr(exc, 'api_message', None) or exc.message} (request id {exc.request_id})",
        request_id=exc.request_id,
        status=exc.status_code,
        retryable=retryable,
        billed=exc.status_code == 200,  # a stream that broke off had been generating
        retry_after_s=_retry_after(headers),
        usage=usage,
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return float(headers.get(name)) / scale
        except (TypeError, ValueError):
            continue
    return None


def _batch_info(batch: MessageBatch) -> BatchInfo:
    counts = {k: int(v) for k, v in dict(batch.request_counts or {}).items()}
    return BatchInfo(batch.id, batch.processing_status, counts)


def _batch_error(result: MessageBatchErroredResult) -> str:
    # Read loosely: an errored item's body is the API's JSON, parsed without validation.
    err = getattr(result, "error", None)
    inner = getattr(err, "error", None)
    message = getattr(inner, "message", None) or getattr(err, "message", None)
    kind = getattr(inner, "type", None) or getattr(err, "type", None) or "error"
    return f"{kind}: {message}" if message else str(kind)


# -- request bodies ------------------------------------------------------------------------------


def build_params(request: ModelRequest) -> dict[str, Any]:
    """The Messages API body for a request, legal for the model's capabilities."""
    caps = request.model.capabilities
    if request.messages and request.messages[-1].get("role") != "user":
        # Prefill is a 400 on Claude 4.6+, and pointless everywhere else for this tool.
        raise ValueError("the conversation must end with a user message (no prefill)")
    params: dict[str, Any] = {
        "model": request.model.id,
        "max_tokens": request.max_tokens,
        "messages": _with_breakpoints(request.messages) if request.cache else copy.deepcopy(request.messages),
    }
    if request.system:
        system: dict[str, Any] = {"type": "text", "text": request.system}
        if request.cache:
            system["cache_control"] = dict(CACHE)  # covers the tool definitions before it too
        params["system"] = [system]
    if request.tools:
        params["tools"] = request.tools
        # auto is the only choice legal with thinking and on models that reject forced tool use.
        params["tool_choice"] = {"type": "auto"}
    if request.effort and request.effort in caps.effort_levels:
        params["output_config"] = {"effort": request.effort}
    thinking = thinking_param(request.thinking, caps.thinking_types, request.max_tokens)
    if thinking is not None:
        params["thinking"] = thinking
    return params


def thinking_param(wanted: dict | None, types: frozenset[str], max_tokens: int) -> dict | None:
    """Map a wanted thinking setting onto what the model accepts, or None to omit the field."""
    if not wanted or wanted.get("type") in (None, "disabled"):
        return None  # omitted = the model's default; "disabled" is a 400 on some models
    # Adaptive where the model has it: the SDK deprecates `enabled` on models that offer both.
    if "adaptive" in types:
        return {"type": "adaptive"}
    if "enabled" not in types:
        return None
    budget = int(wanted.get("budget_tokens") or min(max_tokens // 2, 8000))
    budget = min(budget, max_tokens - 1)
    if budget < 1024:  # the API minimum; no room for thinking under this max_tokens
        return None
    return {"type": "enabled", "budget_tokens": budget}


def _with_breakpoints(messages: list[dict]) -> list[dict]:
    """Copy of the conversation with up to three message breakpoints: the first user message's first
    block (the repository context, stable for the whole tier), the previous user message's last
    block (where the previous call wrote its cache entry) and the latest user message's last block.
    The previous call's entry is marked, not left to the API's 20-block lookback: a turn with many
    tool calls (each a tool_use and a tool_result block) adds more than 20 blocks, and then the
    lookback from the latest block misses it and the whole conversation is written again at 1.25x.
    With the system breakpoint that is at most the 4 allowed."""
    out = copy.deepcopy(messages)
    for m in out:
        if isinstance(m.get("content"), str):
            m["content"] = [{"type": "text", "text": m["content"]}]
    users = [m for m in out if m.get("role") == "user" and m["content"]]
    if not users:
        return out
    targets = [users[0]["content"][0], *(u["content"][-1] for u in users[-2:])]
    for block in targets:
        if block.get("type") in ("thinking", "redacted_thinking"):
            continue
        if block.get("type") == "text" and not block.get("text"):
            continue
        block["cache_control"] = dict(CACHE)
    return out


def block_to_param(block: ContentBlock | dict) -> dict | None:
    """A response content block as it must be sent back; thinking blocks stay byte-identical."""
    data = block if isinstance(block, dict) else block.model_dump(mode="json", exclude_none=True)
    kind = data.get("type")
    if kind == "text":
        return {"type": "text", "text": data["text"]} if data.get("text") else None
    if kind == "thinking":
        return {"type": "thinking", "thinking": data.get("thinking", ""), "signature": data["signature"]}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": data["data"]}
    if kind == "tool_use":
        return {"type": "tool_use", "id": data["id"], "name": data["name"], "input": data.get("input", {})}
    return data


def body_size(params: dict) -> int:
    """Characters of a request body as sent (without max_tokens): the base of the local estimate."""
    return len(json.dumps({k: v for k, v in params.items() if k != "max_tokens"}))
