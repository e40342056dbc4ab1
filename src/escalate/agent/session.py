"""One tier's conversation: the tool loop, validation feedback, the turn limit.

A session is one model on one conversation. An attempt runs model turns until the model
ends its turn without a tool call (or the turn limit hits); the runner validates the
worktree, and a failed verdict comes back as the next user message of the SAME
conversation. A new tier is a new Session: models are never switched mid-conversation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from escalate.llm.client import ModelRequest
from escalate.llm.protocols import Stop

if TYPE_CHECKING:
    from escalate.agent.editor import ToolResult
    from escalate.llm.client import ModelReply
    from escalate.llm.protocols import ModelClient
    from escalate.records.types import TierPlan

CUT_OFF = (
    "Your reply was cut off at max_tokens, so any tool call in it was not run. "
    "Continue in smaller steps (one edit per tool call)."
)


def sendable(content: list[dict]) -> list[dict]:
    """Reply blocks as they can be sent back: a lone surrogate (JSON may carry one in a tool input,
    UTF-8 cannot) becomes U+FFFD. Thinking blocks stay as they are: their signature covers them."""
    try:
        json.dumps(content, ensure_ascii=False).encode("utf-8")
        return content
    except UnicodeEncodeError:
        return [b if b.get("type") in SIGNED else _scrub(b) for b in content]


SIGNED = ("thinking", "redacted_thinking")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


@dataclass
class AttemptEnd:
    """How the model's side of an attempt ended, before validation."""

    reason: str  # "done" | "turn_limit" | "refusal" | "context_exceeded"
    turns: int
    text: str = ""  # the model's last words
    tool_calls: int = 0
    refused_tool_calls: int = 0

    @property
    def failed_reason(self) -> str | None:
        """A reason the attempt fails without validation, or None."""
        if self.reason == "refusal":
            return f"the model refused: {self.text or 'no explanation'}"
        if self.reason == "context_exceeded":
            return "the conversation exceeded the model's context window"
        return None


class ToolBox(Protocol):
    """What a session's model works through: the tools it is offered and their handler
    (``editor.Editor``; the explorer's read-only view of one)."""

    def tools(self) -> list[dict]: ...

    def handle(self, name: str, tool_input: dict) -> ToolResult: ...


Box = TypeVar("Box", bound=ToolBox)


class Session(Generic[Box]):
    """A conversation with one tier's model, editing through ``editor``."""

    def __init__(
        self,
        plan: TierPlan,
        client: ModelClient,
        editor: Box,
        system: str,
        first_content: list[dict],
        *,
        max_turns: int,
        role: str = "implementer",
    ) -> None:
        self.plan = plan
        self.client = client
        self.editor = editor
        self.system = system
        self.max_turns = max_turns
        self.role = role
        self.messages: list[dict] = []
        self._first = first_content

    def attempt(self, feedback: str | None = None) -> AttemptEnd:
        """Run one attempt. The first opens the conversation; later ones carry ``feedback``."""
        if not self.messages:
            self._add_user(list(self._first))
        elif feedback:
            self._add_user([{"type": "text", "text": feedback}])
        end = AttemptEnd("turn_limit", 0)
        while end.turns < self.max_turns:
            reply = self.client.send(self._request())
            end.turns += 1
            if reply.content:
                self.messages.append({"role": "assistant", "content": sendable(reply.content)})
            end.text = reply.text or end.text
            stop = reply.stop
            if stop == Stop.TOOL_USE or (reply.tool_uses and stop not in (Stop.CUT_OFF, Stop.REFUSAL)):
                self._run_tools(reply, end)
                continue
            if stop == Stop.PAUSED:  # a long turn paused by the API; ask it to go on
                self._add_user([{"type": "text", "text": "Continue."}])
                continue
            if stop == Stop.CUT_OFF:
                self._refuse_tools(reply, CUT_OFF)
                self._add_user([{"type": "text", "text": CUT_OFF}])
                continue
            if stop == Stop.REFUSAL:
                end.reason, end.text = "refusal", reply.refusal or reply.text or ""
                return end
            if stop == Stop.CONTEXT_EXCEEDED:
                end.reason = "context_exceeded"
                return end
            end.reason = "done"  # the model says it is finished
            return end
        return end

    def _request(self) -> ModelRequest:
        plan = self.plan
        return ModelRequest(
            model=plan.model,
            system=self.system,
            messages=self.messages,
            max_tokens=plan.max_tokens,
            tools=self.editor.tools(),
            effort=plan.effort,
            thinking=plan.thinking,
            tier=plan.name,
            role=self.role,
        )

    def _run_tools(self, reply: ModelReply, end: AttemptEnd) -> None:
        results = []
        for use in reply.tool_uses:
            end.tool_calls += 1
            result = self.editor.handle(use["name"], use.get("input") or {})
            if result.is_error:
                end.refused_tool_calls += 1
            block = {"type": "tool_result", "tool_use_id": use["id"], "content": result.content or "(empty)"}
            if result.is_error:
                block["is_error"] = True
            results.append(block)
        self._add_user(results)

    def _refuse_tools(self, reply: ModelReply, why: str) -> None:
        # Every tool_use needs a tool_result in the next message, even one we did not run.
        results = [
            {"type": "tool_result", "tool_use_id": u["id"], "content": why, "is_error": True}
            for u in reply.tool_uses
        ]
        if results:
            self._add_user(results)

    def _add_user(self, blocks: list[dict]) -> None:
        """Append a user turn, merging into the last one when it is already a user turn
        (tool results first, text after, as the API requires)."""
        if self.messages and self.messages[-1]["role"] == "user":
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": "user", "content": blocks})
