"""The deterministic token estimate (documented in docs/sim.md, "Token estimate").

A request is flattened into *segments* in cache order, tools -> system -> messages,
one per tool, system block or message content block. Each segment carries its
token count, the bytes that identify it for prompt-cache hashing, and its
``cache_control``. The same flattening serves count_tokens, usage and caching,
so the three always agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

TEXT_EDITOR_TOKENS = 700  # reference: "About 700 extra input tokens"
BASH_TOOL_TOKENS = 245
SERVER_TOOL_TOKENS = 300
TOOL_OVERHEAD = 8
SYSTEM_BLOCK_OVERHEAD = 4
MESSAGE_OVERHEAD = 4
TEXT_BLOCK_OVERHEAD = 2
TOOL_USE_OVERHEAD = 8
TOOL_RESULT_OVERHEAD = 6
IMAGE_TOKENS = 1500
OUTPUT_TOOL_USE_OVERHEAD = 10


def text_tokens(text: str, factor: float = 1.0) -> int:
    """ceil(utf-8 bytes x tokenizer factor / 4); 0 for the empty string."""
    # surrogatepass: a lone surrogate in a tool input counts as its 3 bytes instead of crashing the count
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) * factor / 4)


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Segment:
    section: str  # "tools" | "system" | "messages"
    tokens: int
    identity: str  # what the cache hash covers (the block without its cache_control)
    cache_control: dict | None
    cacheable: bool  # thinking blocks and empty text blocks cannot carry a breakpoint
    where: str  # e.g. "messages.2.content.0", for error messages


def _tool_tokens(tool: dict, factor: float) -> int:
    kind = str(tool.get("type") or "custom")
    if kind.startswith("text_editor_"):
        return TEXT_EDITOR_TOKENS
    if kind.startswith("bash_"):
        return BASH_TOOL_TOKENS
    if kind != "custom":
        return SERVER_TOOL_TOKENS
    return (
        TOOL_OVERHEAD
        + text_tokens(str(tool.get("name", "")), factor)
        + text_tokens(str(tool.get("description", "")), factor)
        + text_tokens(_dumps(tool.get("input_schema", {})), factor)
    )


def block_tokens(block: dict, factor: float, sized: Mapping[str, int] | None = None) -> int:
    """Input tokens of one message content block (without the per-message overhead). ``sized``: tool
    results counted at a drawn size, by tool_use id (the oracle's token traces, sim/trace.py)."""
    kind = block.get("type")
    if kind == "text":
        return TEXT_BLOCK_OVERHEAD + text_tokens(str(block.get("text", "")), factor)
    if kind == "tool_use":
        return TOOL_USE_OVERHEAD + text_tokens(
            str(block.get("name", "")) + _dumps(block.get("input", {})), factor
        )
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, str):
            inner = text_tokens(content, factor)
        else:
            inner = sum(block_tokens(b, factor) for b in content or [] if isinstance(b, dict))
        if sized and block.get("tool_use_id") in sized:
            inner = max(inner, sized[block["tool_use_id"]])
        return TOOL_RESULT_OVERHEAD + inner
    if kind == "thinking":
        return text_tokens(str(block.get("thinking", "")), factor)
    if kind == "redacted_thinking":
        return text_tokens(str(block.get("data", "")), factor)
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return TEXT_BLOCK_OVERHEAD + text_tokens(str(source.get("data", "")), factor)
        return IMAGE_TOKENS
    return text_tokens(_dumps(block), factor)


def _identity(block: dict, prefix: str = "") -> str:
    return prefix + _dumps({k: v for k, v in block.items() if k != "cache_control"})


def message_blocks(message: dict) -> list[dict]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def segments(body: dict, factor: float = 1.0, sized: Mapping[str, int] | None = None) -> list[Segment]:
    out: list[Segment] = []
    for i, tool in enumerate(body.get("tools") or []):
        out.append(
            Segment(
                "tools",
                _tool_tokens(tool, factor),
                _identity(tool),
                tool.get("cache_control"),
                True,
                f"tools.{i}",
            )
        )
    system = body.get("system")
    if isinstance(system, str):
        system = [{"type": "text", "text": system}] if system else []
    for i, block in enumerate(system or []):
        tokens = SYSTEM_BLOCK_OVERHEAD + text_tokens(str(block.get("text", "")), factor)
        out.append(
            Segment(
                "system",
                tokens,
                _identity(block),
                block.get("cache_control"),
                bool(block.get("text")),
                f"system.{i}",
            )
        )
    for m, message in enumerate(body.get("messages") or []):
        role = str(message.get("role"))
        for b, block in enumerate(message_blocks(message)):
            tokens = block_tokens(block, factor, sized) + (MESSAGE_OVERHEAD if b == 0 else 0)
            cacheable = block.get("type") not in ("thinking", "redacted_thinking") and not (
                block.get("type") == "text" and not block.get("text")
            )
            prefix = f"{role}|" if b == 0 else ""
            out.append(
                Segment(
                    "messages",
                    tokens,
                    _identity(block, prefix),
                    block.get("cache_control"),
                    cacheable,
                    f"messages.{m}.content.{b}",
                )
            )
    return out


def count_input(body: dict, factor: float = 1.0, sized: Mapping[str, int] | None = None) -> int:
    return sum(s.tokens for s in segments(body, factor, sized))


def output_block_tokens(block: dict, factor: float = 1.0) -> int:
    """Output tokens for one response block (thinking tokens are counted separately by the caller)."""
    kind = block.get("type")
    if kind == "text":
        return text_tokens(block.get("text", ""), factor)
    if kind == "tool_use":
        return OUTPUT_TOOL_USE_OVERHEAD + text_tokens(_dumps(block.get("input", {})), factor)
    if kind == "thinking":
        return text_tokens(block.get("thinking", ""), factor)
    return 0
