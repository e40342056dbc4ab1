"""The model client: request building from capabilities, calls, usage, call records.

The only module that talks to Anthropic. Which request fields are sent is decided by the
model's capabilities (``ModelInfo.capabilities``), never by its name: effort only where the
model takes it, ``thinking.enabled`` only where it exists (``adaptive`` otherwise), no forced
``tool_choice``, no prefill, no sampling parameters. Every call is checked against the budget
at its worst case before it is sent, and priced from the usage the API reports after.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from escalate.errors import EscalateError, MissingCredentialError

if TYPE_CHECKING:
    from escalate.llm.catalog import ModelInfo
    from escalate.llm.pricing import Budget, PriceTable, Usage

# The SDK refuses non-streaming requests that could take over 10 minutes (128k tokens per hour).
STREAMING_THRESHOLD = 21_333
# Server-side tokens the request JSON does not show (tool schemas of built-in tools, framing).
_HIDDEN_INPUT_TOKENS = 1_000
CACHE = {"type": "ephemeral"}

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
    """One API call as written to ``calls.jsonl``."""

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

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("usage")
        out["cost_usd"] = round(float(self.cost_usd), 6)
        out["duration_s"] = round(self.duration_s, 3)
        if self.usage is not None:
            out["cache_write_5m"] = self.usage.cache_write_5m
            out["cache_write_1h"] = self.usage.cache_write_1h
        return out


@dataclass
class ModelReply:
    content: list[dict]  # blocks ready to go back into the conversation unchanged
    stop_reason: str | None
    stop_details: dict | None
    usage: Usage
    record: CallRecord

    @property
    def tool_uses(self) -> list[dict]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    @property
    def text(self) -> str:
        return "\n".join(b["text"] for b in self.content if b.get("type") == "text")


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
    """Copy of the conversation with two message breakpoints: the first user message's first
    block (the repository context, stable for the whole tier) and the latest user message's last
    block, so every turn reads the conversation so far from cache. With the system breakpoint
    that is at most 3 of the 4 allowed."""
    out = copy.deepcopy(messages)
    for m in out:
        if isinstance(m.get("content"), str):
            m["content"] = [{"type": "text", "text": m["content"]}]
    users = [m for m in out if m.get("role") == "user"]
    if not users:
        return out
    targets = [users[0]["content"][0], users[-1]["content"][-1]]
    for block in targets:
        if block.get("type") in ("thinking", "redacted_thinking"):
            continue
        if block.get("type") == "text" and not block.get("text"):
            continue
        block["cache_control"] = dict(CACHE)
    return out


def estimate_input_tokens(params: dict) -> int:
    """A deliberately high local estimate: JSON chars / 3 plus server-side overhead."""
    body = {k: v for k, v in params.items() if k != "max_tokens"}
    return math.ceil(len(json.dumps(body)) / 3) + _HIDDEN_INPUT_TOKENS


def block_to_param(block: Any) -> dict | None:
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


class ModelClient:
    """Sends requests through the real SDK (``ANTHROPIC_BASE_URL``/``ANTHROPIC_API_KEY`` as the SDK
    reads them), enforcing the budget before each call and reporting a CallRecord after it."""

    def __init__(
        self,
        catalog: Any,
        prices: PriceTable,
        budget: Budget,
        on_call: Callable[[CallRecord], None],
        *,
        run: str = "",
        max_retries: int = 2,
        client: Any = None,
    ) -> None:
        self.catalog = catalog
        self.prices = prices
        self.budget = budget
        self.on_call = on_call
        self.run = run
        self.calls = 0
        if client is None:
            import anthropic

            require_api_key()
            client = anthropic.Anthropic(max_retries=max_retries)
        self.client = client

    def worst_case(self, request: ModelRequest, params: dict | None = None) -> Decimal:
        params = params if params is not None else build_params(request)
        tokens = estimate_input_tokens(params)
        if request.cache:  # with breakpoints the whole prompt may be a cache write, dearer than input
            return self.prices.worst_case(request.model.id, 0, request.max_tokens, cache_write_tokens=tokens)
        return self.prices.worst_case(request.model.id, tokens, request.max_tokens)

    def send(self, request: ModelRequest) -> ModelReply:
        """One call. Raises BudgetExceeded before sending when its worst case could pass the limit,
        ModelCallError when the API fails after the SDK's retries."""
        import anthropic

        from escalate.llm.pricing import Usage

        params = build_params(request)
        self.budget.check(self.worst_case(request, params))
        started = time.monotonic()
        try:
            if request.max_tokens > STREAMING_THRESHOLD:
                with self.client.messages.stream(**params) as stream:
                    message = stream.get_final_message()
                    request_id = stream.request_id
            else:
                message = self.client.messages.create(**params)
                request_id = getattr(message, "_request_id", None)
        except anthropic.APIStatusError as exc:
            # A 200 here is an `error` event inside a stream that had started well.
            how = "broke off mid-stream" if exc.status_code == 200 else f"answered {exc.status_code}"
            raise ModelCallError(
                f"The Anthropic API {how} for {request.model.id}: "
                f"{getattr(exc, 'api_message', None) or exc.message} (request id {exc.request_id})",
                exc.request_id,
                exc.status_code,
            ) from exc
        except anthropic.APIError as exc:  # connection errors, timeouts, mid-stream error events
            rid = getattr(exc, "request_id", None)
            raise ModelCallError(
                f"The Anthropic API call for {request.model.id} failed: {exc} (request id {rid}). "
                f"Check ANTHROPIC_BASE_URL and your network.",
                rid,
            ) from exc
        duration = time.monotonic() - started
        usage = Usage.from_api(message.usage)
        cost = self.prices.cost(request.model.id, usage)
        self.budget.add(cost)
        self.calls += 1
        record = CallRecord(
            run=self.run,
            tier=request.tier,
            role=request.role,
            model=request.model.id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_write_tokens=usage.cache_write_5m + usage.cache_write_1h,
            cache_read_tokens=usage.cache_read,
            thinking_tokens=usage.thinking_tokens,
            cost_usd=cost,
            request_id=request_id,
            duration_s=duration,
            stop_reason=message.stop_reason,
            usage=usage,
        )
        self.on_call(record)
        content = [p for p in (block_to_param(b) for b in message.content) if p is not None]
        details = message.stop_details.model_dump(mode="json") if message.stop_details else None
        return ModelReply(content, message.stop_reason, details, usage, record)
