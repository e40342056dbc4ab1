"""Building Message objects and their SSE event streams from content blocks.

Scripts and the oracle produce plain blocks (text / thinking / tool_use); this
module gives them ids and signatures, counts output and thinking tokens,
enforces ``max_tokens`` and writes the wire forms.
"""

from __future__ import annotations

import json
import random
import string
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from escalate.sim.cache import CacheUsage
from escalate.sim.catalogue import SimModel
from escalate.sim.signature import sign
from escalate.sim.tokens import output_block_tokens

_ALPHABET = string.ascii_letters + string.digits
CHUNK = 24  # characters per text/thinking/json delta, so streams have several deltas per block


class Ids:
    """Real-looking ids (``msg_01…``, ``toolu_01…``, ``req_011C…``, ``msgbatch_01…``); seedable."""

    def __init__(self, seed: int | None = None):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _tail(self, n: int) -> str:
        with self._lock:
            return "".join(self._rng.choice(_ALPHABET) for _ in range(n))

    def message(self) -> str:
        return "msg_01" + self._tail(22)

    def tool_use(self) -> str:
        return "toolu_01" + self._tail(22)

    def request(self) -> str:
        return "req_011C" + self._tail(20)

    def batch(self) -> str:
        return "msgbatch_01" + self._tail(22)


@dataclass
class Reply:
    content: list[dict]
    stop_reason: str
    output_tokens: int
    thinking_tokens: int
    stop_sequence: str | None = None


def _thinking_display(body: dict, model: SimModel) -> str:
    return (body.get("thinking") or {}).get("display") or model.thinking_display_default


def _truncate(text: str, tokens: int, factor: float) -> str:
    # Inverse of text_tokens: keep about tokens*4/factor bytes, cut on a character boundary.
    limit = int(tokens * 4 / factor)
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def make_reply(
    blocks: list[dict],
    body: dict,
    model: SimModel,
    ids: Ids,
    *,
    stop_reason: str | None = None,
    usage_override: dict | None = None,
) -> Reply:
    """Wire content blocks plus output accounting; ``max_tokens`` cuts the reply as the real API does."""
    factor = model.tokenizer
    budget = int(body.get("max_tokens", 0))
    display = _thinking_display(body, model)
    stops = [s for s in body.get("stop_sequences") or [] if isinstance(s, str) and s]
    content: list[dict] = []
    used = thinking = 0
    truncated = False
    matched: str | None = None
    for block in blocks:
        kind = block["type"]
        if kind == "text" and stops:
            block, matched = _cut_at_stop(block, stops)
        cost = output_block_tokens(block, factor)
        if used + cost > budget:
            truncated = True
            room = budget - used
            if kind in ("text", "thinking") and room > 0:
                key = "text" if kind == "text" else "thinking"
                block = {**block, key: _truncate(block[key], room, factor)}
                cost = room
            else:
                break
        if kind == "text":
            content.append({"type": "text", "text": block["text"]})
        elif kind == "thinking":
            shown = "" if display == "omitted" else block["thinking"]
            content.append({"type": "thinking", "thinking": shown, "signature": sign(shown)})
            thinking += cost
        elif kind == "redacted_thinking":
            content.append({"type": "redacted_thinking", "data": block.get("data") or ids.message()})
        elif kind == "tool_use":
            content.append(
                {
                    "type": "tool_use",
                    "id": block.get("id") or ids.tool_use(),
                    "name": block["name"],
                    "input": block["input"],
                }
            )
        used += cost
        if truncated or matched:
            break
    if truncated:
        stop = "max_tokens"
    elif matched:
        stop = "stop_sequence"
    elif stop_reason:
        stop = stop_reason
    else:
        stop = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
    output = used if budget == 0 else max(used, 1)  # the real API bills >= 1 output token per reply
    override = usage_override or {}
    if "thinking_tokens" in override:
        output += int(override["thinking_tokens"]) - thinking
        thinking = int(override["thinking_tokens"])
    if "output_tokens" in override:
        output = int(override["output_tokens"])
    return Reply(content, stop, output, thinking, matched if stop == "stop_sequence" else None)


def _cut_at_stop(block: dict, stops: list[str]) -> tuple[dict, str | None]:
    """The text up to the earliest stop sequence (which the real API does not return) and that sequence."""
    hits = [(block["text"].find(s), s) for s in stops if s in block["text"]]
    if not hits:
        return block, None
    at, seq = min(hits)
    return {**block, "text": block["text"][:at]}, seq


def usage_json(cache: CacheUsage, reply: Reply, *, service_tier: str = "standard") -> dict:
    return {
        "input_tokens": cache.input_tokens,
        "output_tokens": reply.output_tokens,
        "cache_creation_input_tokens": cache.cache_creation,
        "cache_read_input_tokens": cache.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache.write_5m,
            "ephemeral_1h_input_tokens": cache.write_1h,
        },
        "output_tokens_details": {"thinking_tokens": reply.thinking_tokens},
        "server_tool_use": None,
        "service_tier": service_tier,
        "inference_geo": None,
    }


def _stop_details(stop_reason: str) -> dict | None:
    # The real API explains refusals; a scripted refusal names no category.
    if stop_reason == "refusal":
        return {"type": "refusal", "category": None, "explanation": "The model declined to continue."}
    return None


def message_json(message_id: str, model_id: str, reply: Reply, usage: dict) -> dict:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model_id,
        "content": reply.content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "stop_details": _stop_details(reply.stop_reason),
        "usage": usage,
    }


def _chunks(text: str) -> list[str]:
    return [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]


def _block_events(index: int, block: dict) -> list[tuple[str, dict]]:
    kind = block["type"]
    deltas: list[dict] = []
    if kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": c} for c in _chunks(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": c} for c in _chunks(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        raw = json.dumps(block["input"], ensure_ascii=False)
        deltas = [{"type": "input_json_delta", "partial_json": c} for c in _chunks(raw)]
    else:
        start = dict(block)
    events = [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
    ]
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
    ]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def sse_events(message: dict) -> Iterator[tuple[str, dict]]:
    """The named SSE events for a finished message; ``message_delta`` carries cumulative usage."""
    usage = message["usage"]
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens_details"}
    start_usage["output_tokens"] = min(1, usage["output_tokens"])
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    start["stop_details"] = None
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
    delta_usage = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
        "output_tokens_details": usage["output_tokens_details"],
        "server_tool_use": None,
    }
    delta = {
        "stop_reason": message["stop_reason"],
        "stop_sequence": message["stop_sequence"],
        "stop_details": message["stop_details"],
    }
    yield "message_delta", {"type": "message_delta", "delta": delta, "usage": delta_usage}
    yield "message_stop", {"type": "message_stop"}


def sse_frame(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def default_text(body: dict) -> list[dict]:
    """What the sim says when no script entry and no oracle task answers: a plain end_turn text."""
    del body
    return [{"type": "text", "text": "I have no further changes to make."}]
