"""Injected faults: error statuses, mid-stream errors, delays, and billed answers the client cannot
read (a malformed 200 body, a connection dropped after billing) (docs/sim.md, "Faults").

Faults fire on the Nth ``POST /v1/messages`` (1-based, counting retries) or with a
seeded probability. Status faults carry ``retry-after-ms`` (default 1) so the SDK's
retry path runs without sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from escalate.errors import ConfigError
from escalate.sim.errors import DEFAULT_MESSAGES, ERROR_TYPES, STATUS_FOR_TYPE, ApiError

KEYS = {
    "on_request",
    "probability",
    "seed",
    "status",
    "stream_error",
    "delay_s",
    "retry_after_ms",
    "model",
    "message",
    "should_retry",
    "custom_id",
    "malformed_body",
    "drop_connection",
}
# The faults that answer after the request was processed and billed.
BILLED_FAULTS = ("malformed_body", "drop_connection")


@dataclass
class Fault:
    index: int
    on_request: frozenset[int] = frozenset()
    probability: float | None = None
    rng: random.Random | None = None
    status: int | None = None
    stream_error: str | None = None
    delay_s: float = 0.0
    retry_after_ms: int | None = 1
    model: str | None = None
    message: str | None = None
    should_retry: bool | None = None
    custom_id: str | None = None  # a Message Batches item: its result becomes `errored`
    malformed_body: bool = False  # billed, then a 200 whose body (or one SSE event) is not JSON
    drop_connection: bool = False  # billed, then the connection closes with no response
    spec: dict = field(default_factory=dict)

    def fires(self, n: int, model: str | None) -> bool:
        # Draw on every request so a seeded sequence does not depend on which models were asked.
        hit = n in self.on_request
        if self.rng is not None:
            hit = self.rng.random() < (self.probability or 0.0) or hit
        return hit and (self.model is None or self.model == model)

    def error(self) -> ApiError:
        """The HTTP error this fault answers with (a stream error on a plain request becomes its status)."""
        status = self.status or STATUS_FOR_TYPE.get(self.stream_error or "", 529)
        error_type = (
            ERROR_TYPES.get(status, "api_error") if self.status else (self.stream_error or "api_error")
        )
        headers = {}
        if self.retry_after_ms is not None and (status == 429 or status >= 500):
            headers["retry-after-ms"] = str(self.retry_after_ms)
        if self.should_retry is not None:
            headers["x-should-retry"] = "true" if self.should_retry else "false"
        message = self.message or DEFAULT_MESSAGES.get(error_type, f"Injected fault ({error_type})")
        return ApiError(status, message, error_type=error_type, headers=headers)

    def stream_error_body(self) -> dict:
        kind = self.stream_error or "overloaded_error"
        message = self.message or DEFAULT_MESSAGES.get(kind, f"Injected fault ({kind})")
        return {"type": "error", "error": {"type": kind, "message": message, "details": None}}


def _fault(i: int, spec: object) -> Fault:
    where = f"faults[{i}]"
    if not isinstance(spec, dict):
        raise ConfigError(f"sim script: {where} must be a mapping, e.g. {{on_request: 2, status: 429}}")
    unknown = set(spec) - KEYS
    if unknown:
        raise ConfigError(f"sim script: {where} has unknown keys {sorted(unknown)}; known: {sorted(KEYS)}")
    if "on_request" not in spec and "probability" not in spec and "custom_id" not in spec:
        raise ConfigError(
            f"sim script: {where} needs `on_request: N`, `probability: P` (with `seed`) or `custom_id: ID`"
        )
    if not any(k in spec for k in ("status", "stream_error", "delay_s", *BILLED_FAULTS)):
        raise ConfigError(
            f"sim script: {where} needs `status`, `stream_error`, `delay_s`, `malformed_body` "
            "or `drop_connection`"
        )
    status = spec.get("status")
    if status is not None and int(status) not in ERROR_TYPES:
        raise ConfigError(f"sim script: {where}.status must be one of {sorted(ERROR_TYPES)}")
    stream_error = spec.get("stream_error")
    if stream_error is not None and stream_error not in STATUS_FOR_TYPE:
        raise ConfigError(
            f"sim script: {where}.stream_error must be an error type, one of {sorted(STATUS_FOR_TYPE)}"
        )
    on = spec.get("on_request", [])
    on_set = frozenset(int(n) for n in (on if isinstance(on, list) else [on]))
    probability = spec.get("probability")
    return Fault(
        index=i,
        on_request=on_set,
        probability=None if probability is None else float(probability),
        rng=None if probability is None else random.Random(spec.get("seed", 0)),
        status=None if status is None else int(status),
        stream_error=stream_error,
        delay_s=float(spec.get("delay_s", 0.0)),
        retry_after_ms=spec.get("retry_after_ms", 1),
        model=spec.get("model"),
        message=spec.get("message"),
        should_retry=spec.get("should_retry"),
        custom_id=spec.get("custom_id"),
        malformed_body=bool(spec.get("malformed_body", False)),
        drop_connection=bool(spec.get("drop_connection", False)),
        spec=dict(spec),
    )


class FaultPlan:
    def __init__(self, specs: list | None):
        self.faults = [_fault(i, s) for i, s in enumerate(specs or [])]

    def draw(self, n: int, model: str | None) -> list[Fault]:
        """The faults that fire for the nth messages request (every fault draws, fired or not)."""
        return [f for f in self.faults if f.fires(n, model)]

    def for_batch_item(self, custom_id: str) -> Fault | None:
        """The status fault aimed at this batch item's custom_id, if any (the item ends `errored`)."""
        return next((f for f in self.faults if f.custom_id == custom_id and f.status), None)
