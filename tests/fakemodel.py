"""An in-process model for fast tests: scripted replies, no server, no HTTP (simonw/llm's MockModel).

``FakeModel`` implements escalate's ``Provider`` seam (``escalate.llm.protocols``), so everything
above it is the runner's own: ``MeteredClient`` checks the budget before each call, prices the
reply's usage with the price table and logs the call. Replies are queued with ``enqueue`` and
taken in order by the first request they match (a role, a model, or any)::

    fake = FakeModel()
    fake.enqueue(edit(...), model="claude-haiku-4-5")      # a tool call
    fake.enqueue("Changed add(). DONE")                    # the end of the attempt
    outcome = run_task(task, root, config, provider=fake, catalog=Catalog.static())

A request nothing matches gets a plain end-of-turn text, as the simulator gives. Usage is realistic:
the body the Anthropic provider would send (``build_params``) counted at 4 characters a token, and
the prompt cache emulated by prefix: what an earlier request on the same model already sent is read
from cache, the rest of a cached request is written to it. ``bodies`` keeps every body sent, for
tests that check what the model was told.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from escalate.llm.client import ModelRequest
from escalate.llm.pricing import Usage
from escalate.llm.protocols import Completion, ProviderError, Stop
from escalate.llm.providers.anthropic import build_params

DEFAULT_TEXT = "I have no further changes to make."


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


@dataclass
class Reply:
    """One queued answer and the requests it may answer (None: any)."""

    content: list[dict]
    stop: Stop
    role: str | None = None
    model: str | None = None
    refusal: str | None = None
    error: ProviderError | None = None  # raised instead of answering

    def matches(self, request: ModelRequest) -> bool:
        return (self.role is None or self.role == request.role) and (
            self.model is None or self.model == request.model.id
        )


@dataclass
class FakeModel:
    """A scripted ``Provider``; see the module docstring."""

    name: str = "fake"
    base_url: str = "fake://model"
    replies: list[Reply] = field(default_factory=list)
    requests: list[ModelRequest] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)
    usages: list[tuple[str, Usage]] = field(default_factory=list)  # (model id, usage) per answered call
    _cached: dict[str, list[str]] = field(default_factory=dict)  # model id -> prompts written to cache

    # -- scripting --------------------------------------------------------------------------

    def enqueue(
        self,
        *content: str | dict,
        role: str | None = None,
        model: str | None = None,
        stop: Stop | None = None,
        refusal: str | None = None,
    ) -> FakeModel:
        """Queue one answer: strings become text blocks, dicts are blocks as they are (a tool_use gets
        an id). The stop is TOOL_USE when a tool is called, else DONE, unless given."""
        blocks = [{"type": "text", "text": c} if isinstance(c, str) else dict(c) for c in content]
        for i, block in enumerate(blocks):
            if block.get("type") == "tool_use":
                block.setdefault("id", f"toolu_fake_{len(self.replies):03d}_{i}")
        if stop is None:
            stop = Stop.TOOL_USE if any(b.get("type") == "tool_use" for b in blocks) else Stop.DONE
        self.replies.append(Reply(blocks, stop, role, model, refusal))
        return self

    def fail(self, error: ProviderError, *, role: str | None = None, model: str | None = None) -> FakeModel:
        """Queue a failed try: the matching request raises ``error``."""
        self.replies.append(Reply([], Stop.DONE, role, model, error=error))
        return self

    def unanswered(self) -> list[Reply]:
        """Queued replies no request took (a test that scripted more than ran)."""
        return list(self.replies)

    # -- the Provider seam ------------------------------------------------------------------

    def params(self, request: ModelRequest) -> dict:
        return build_params(request)

    def complete(self, request: ModelRequest) -> Completion:
        body = self.params(request)
        self.requests.append(request)
        self.bodies.append(body)
        reply = next((r for r in self.replies if r.matches(request)), None)
        if reply is not None:
            self.replies.remove(reply)
            if reply.error is not None:
                raise reply.error
        else:
            reply = Reply([{"type": "text", "text": DEFAULT_TEXT}], Stop.DONE)
        usage = self._usage(request, body, reply.content)
        self.usages.append((request.model.id, usage))
        stop_reason = {Stop.TOOL_USE: "tool_use", Stop.CUT_OFF: "max_tokens", Stop.REFUSAL: "refusal"}
        return Completion(
            content=reply.content,
            stop=reply.stop,
            stop_reason=stop_reason.get(reply.stop, "end_turn"),
            usage=usage,
            request_id=f"req_fake_{len(self.bodies):04d}",
            refusal=reply.refusal,
        )

    def count_tokens(self, request: ModelRequest) -> int:
        return tokens(_prompt(self.params(request)))

    def list_models(self) -> list[dict]:
        raise ProviderError("the fake model has no Models API: pass catalog=Catalog.static()")

    # -- usage ------------------------------------------------------------------------------

    def _usage(self, request: ModelRequest, body: dict, content: list[dict]) -> Usage:
        prompt = _prompt(body)
        output = tokens(json.dumps(content)) if content else 1
        if not request.cache:
            return Usage(input_tokens=tokens(prompt), output_tokens=output)
        written = self._cached.setdefault(request.model.id, [])
        hit = max((p for p in written if prompt.startswith(p)), key=len, default="")
        written.append(prompt)
        read = tokens(hit) if hit else 0
        return Usage(
            input_tokens=3,  # the few tokens after the last breakpoint
            output_tokens=output,
            cache_write_5m=max(tokens(prompt) - read, 0),
            cache_read=read,
        )


def _prompt(body: dict) -> str:
    """The prompt as one string that grows by appending: system, tools, then message after message
    (cache_control markers left out: they move, the content does not)."""
    parts = [
        json.dumps(_plain(body.get("system")), sort_keys=True),
        json.dumps(body.get("tools"), sort_keys=True),
    ]
    parts += [json.dumps(_plain(m), sort_keys=True) for m in body.get("messages", [])]
    return "\n".join(parts)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
