"""The simulated API's state and its Messages logic, independent of HTTP.

One ``Simulator`` per server run holds the catalogue, clock, prompt cache,
script (with its faults and oracle), batches and the request log. The HTTP
layer (``server.py``) only parses, authenticates and writes responses.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from escalate.sim.batches import BatchStore
from escalate.sim.cache import PromptCache, breakpoints
from escalate.sim.catalogue import SimCatalogue, SimModel
from escalate.sim.clock import Clock
from escalate.sim.errors import invalid
from escalate.sim.faults import Fault, FaultPlan
from escalate.sim.messages import Ids, default_text, make_reply, message_json, usage_json
from escalate.sim.oracle import Oracle
from escalate.sim.requestlog import RequestLog
from escalate.sim.script import Script
from escalate.sim.tokens import segments
from escalate.sim.validation import validate_count_request, validate_message_request


@dataclass
class Answer:
    """A finished Messages call: the message plus what the log should say about it."""

    message: dict
    model: SimModel
    cost: Decimal
    decision: dict


class Simulator:
    def __init__(
        self,
        script: dict | str | Path | None = None,
        *,
        catalogue: SimCatalogue | None = None,
        log_path: str | Path | None = None,
        batch_seconds: float = 0.0,
        api_key: str | None = None,
        seed: int | None = None,
    ):
        self.catalogue = catalogue or SimCatalogue.load()
        self.clock = Clock()
        self.cache = PromptCache(self.clock)
        self.ids = Ids(seed)
        self.log = RequestLog(log_path)
        self.batch_seconds = float(batch_seconds)
        self.required_key = api_key  # None: any non-empty key is accepted
        self.base_url = ""  # set by the server once it is bound
        self.batches = BatchStore(self)
        self._count_lock = threading.Lock()
        self._messages_seen = 0
        self.set_script(script)

    def set_script(self, source: dict | str | Path | None) -> None:
        """Replace the script (entries, faults, oracle) and restart the request count for faults."""
        script = Script.load(source)
        self.script = script
        self.faults = FaultPlan(script.faults)
        self.oracle = Oracle(script.oracle, self.catalogue) if script.oracle else None
        with self._count_lock:
            self._messages_seen = 0

    def next_faults(self, model_id: str | None) -> tuple[int, list[Fault]]:
        with self._count_lock:
            self._messages_seen += 1
            n = self._messages_seen
        return n, self.faults.draw(n, model_id)

    def respond(self, body: dict, *, batch: bool = False) -> Answer:
        """Validate, consult the cache, pick the behaviour and build the Message (or raise ApiError)."""
        model = validate_message_request(body, self.catalogue, batch=batch)
        segs = segments(body, model.tokenizer, self.sized_results())
        breakpoints(body, segs)
        total = sum(s.tokens for s in segs)
        if total > model.context_window:
            raise invalid(f"prompt is too long: {total} tokens > {model.context_window} maximum")
        cache = self.cache.apply(model, body, segs)
        stop_reason, override = None, {}
        if body["max_tokens"] == 0:  # cache pre-warming: empty content, nothing generated
            blocks, decision, stop_reason = [], {"prewarm": True}, "max_tokens"
        else:
            answer = self.oracle.respond(model, body, batch=batch) if self.oracle else None
            if answer is not None:
                blocks, decision = answer
            else:
                entry = self.script.pick(model.id, body)
                if entry is not None:
                    blocks, stop_reason, override = entry.content, entry.stop_reason, entry.usage
                    decision = {"script_entry": entry.label}
                else:
                    blocks, decision = default_text(body), {"script_entry": None}
        reply = make_reply(blocks, body, model, self.ids, stop_reason=stop_reason, usage_override=override)
        usage = usage_json(cache, reply, service_tier="batch" if batch else "standard")
        if "input_tokens" in override:
            usage["input_tokens"] = int(override["input_tokens"])
        message = message_json(self.ids.message(), model.id, reply, usage)
        return Answer(message, model, model.charge(usage, batch=batch), decision)

    def sized_results(self) -> dict[str, int] | None:
        """Tool results the oracle's token traces count at a drawn size (sim/trace.py), by tool_use id."""
        return self.oracle.result_tokens if self.oracle else None

    def count_tokens(self, body: dict) -> tuple[SimModel, int]:
        model = validate_count_request(body, self.catalogue)
        segs = segments(body, model.tokenizer, self.sized_results())
        breakpoints(body, segs)
        return model, sum(s.tokens for s in segs)
