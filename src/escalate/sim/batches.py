"""The Message Batches API on the sim clock (docs/sim.md, "Batches").

A batch's requests finish evenly spread over ``batch_seconds`` (request i of n at
created + S*(i+1)/n); the batch ends when all have finished, when it is
canceled, or at ``expires_at`` (24 h), whichever is first. Requests that had not
finished become ``canceled`` or ``expired``. Params are validated only when a
request is processed, so bad ones become ``errored`` results, as on the real API.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from escalate.sim.errors import ApiError, invalid
from escalate.sim.pagination import paginate

if TYPE_CHECKING:
    from escalate.sim.simulator import Simulator

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
WINDOW_SECONDS = 24 * 3600
MAX_REQUESTS = 100_000


@dataclass
class Batch:
    id: str
    created_at: float
    expires_at: float
    requests: list[dict]
    finish_times: list[float]
    cancel_at: float | None = None
    ended_at: float | None = None
    deleted: bool = False
    results: list[dict] = field(default_factory=list)


class BatchStore:
    def __init__(self, sim: Simulator):
        self.sim = sim
        self._batches: dict[str, Batch] = {}
        self._order: list[str] = []
        self._lock = threading.RLock()

    # -- endpoints -------------------------------------------------------------------------------

    def create(self, body: dict) -> dict:
        requests = body.get("requests")
        if requests is None:
            raise invalid("requests: Field required")
        if not isinstance(requests, list) or not requests:
            raise invalid("requests: List should have at least 1 item after validation, not 0")
        if len(requests) > MAX_REQUESTS:
            raise invalid(f"requests: a batch may hold at most {MAX_REQUESTS} requests")
        for i, item in enumerate(requests):
            if not isinstance(item, dict) or "custom_id" not in item:
                raise invalid(f"requests.{i}.custom_id: Field required")
            if not isinstance(item.get("params"), dict):
                raise invalid(f"requests.{i}.params: Field required")
        now = self.sim.clock.now()
        span = self.sim.batch_seconds
        n = len(requests)
        batch = Batch(
            id=self.sim.ids.batch(),
            created_at=now,
            expires_at=now + WINDOW_SECONDS,
            requests=[dict(r) for r in requests],
            finish_times=[now + span * (i + 1) / n for i in range(n)],
        )
        with self._lock:
            self._batches[batch.id] = batch
            self._order.insert(0, batch.id)  # newest first, as the list endpoint returns them
        return self._object(batch)

    def retrieve(self, batch_id: str) -> dict:
        batch = self._get(batch_id)
        self._advance(batch)
        return self._object(batch)

    def list(self, query: dict) -> dict:
        with self._lock:
            live = [self._batches[i] for i in self._order if not self._batches[i].deleted]
        for batch in live:
            self._advance(batch)
        return paginate([self._object(b) for b in live], query)

    def cancel(self, batch_id: str) -> dict:
        batch = self._get(batch_id)
        self._advance(batch)
        with self._lock:
            if batch.ended_at is None and batch.cancel_at is None:
                batch.cancel_at = self.sim.clock.now()
        return self._object(batch, canceling=True)

    def delete(self, batch_id: str) -> dict:
        batch = self._get(batch_id)
        self._advance(batch)
        if batch.ended_at is None:
            raise invalid(
                f"Batch {batch_id} cannot be deleted while it is still processing; cancel it and wait "
                "until processing_status is 'ended'"
            )
        batch.deleted = True
        return {"id": batch_id, "type": "message_batch_deleted"}

    def results(self, batch_id: str) -> bytes:
        batch = self._get(batch_id)
        self._advance(batch)
        if batch.ended_at is None:
            raise invalid(
                f"Batch {batch_id} has not finished processing; results are available once it has ended"
            )
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in batch.results).encode("utf-8")

    # -- internals -------------------------------------------------------------------------------

    def _get(self, batch_id: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or batch.deleted:
            raise ApiError(404, f"batch: {batch_id} not found")
        return batch

    def _advance(self, batch: Batch) -> None:
        with self._lock:
            if batch.ended_at is not None:
                return
            now = self.sim.clock.now()
            natural_end = min(batch.finish_times[-1], batch.expires_at)
            if batch.cancel_at is not None:
                cutoff, ended = batch.cancel_at, now
            elif now >= natural_end:
                cutoff, ended = natural_end, natural_end
            else:
                return
            seen: set[str] = set()
            for item, finish in zip(batch.requests, batch.finish_times, strict=True):
                custom_id = item["custom_id"]
                if finish <= min(cutoff, batch.expires_at):
                    result = self._process(batch, item, seen)
                elif batch.cancel_at is not None and batch.cancel_at < batch.expires_at:
                    result = {"type": "canceled"}
                else:
                    result = {"type": "expired"}
                seen.add(str(custom_id))
                batch.results.append({"custom_id": custom_id, "result": result})
            batch.ended_at = ended

    def _process(self, batch: Batch, item: dict, seen: set[str]) -> dict:
        custom_id = item["custom_id"]
        request_id = self.sim.ids.request()
        record = {
            "time": self.sim.clock.iso(self.sim.clock.now()),
            "method": "BATCH",
            "path": f"/v1/messages/batches/{batch.id}",
            "batch_id": batch.id,
            "custom_id": custom_id,
            "headers": {},
            "body": item.get("params"),
            "request_id": request_id,
            "stream": False,
        }
        try:
            if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
                raise invalid(f"custom_id: String should match pattern '{CUSTOM_ID.pattern}'")
            if custom_id in seen:
                raise invalid(
                    f"custom_id: '{custom_id}' is used more than once in this batch; custom_id must be unique"
                )
            fault = self.sim.faults.for_batch_item(custom_id)
            if fault is not None:
                raise fault.error()
            answer = self.sim.respond(item["params"], batch=True)
        except ApiError as exc:
            self.sim.log.append(
                {
                    **record,
                    "status": exc.status,
                    "model": item["params"].get("model"),
                    "error": {"type": exc.error_type, "message": exc.message},
                    "usage": None,
                    "cost_usd": 0.0,
                    "cost_usd_exact": "0",
                }
            )
            body = exc.body(None)
            body["error"].pop("details", None)
            return {"type": "errored", "error": body}
        self.sim.log.append(
            {
                **record,
                "status": 200,
                "model": answer.model.id,
                "error": None,
                "usage": answer.message["usage"],
                "cost_usd": float(answer.cost),
                "cost_usd_exact": str(answer.cost),
                "service_tier": "batch",
                **answer.decision,
            }
        )
        return {"type": "succeeded", "message": answer.message}

    def _object(self, batch: Batch, *, canceling: bool = False) -> dict:
        clock = self.sim.clock
        n = len(batch.requests)
        counts = {"processing": n, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.ended_at is not None:
            status = "ended"
            counts["processing"] = 0
            for r in batch.results:
                counts[r["result"]["type"]] += 1
        else:
            status = "canceling" if (canceling or batch.cancel_at is not None) else "in_progress"
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "created_at": clock.iso(batch.created_at),
            "expires_at": clock.iso(batch.expires_at),
            "ended_at": clock.iso(batch.ended_at) if batch.ended_at is not None else None,
            "cancel_initiated_at": clock.iso(batch.cancel_at) if batch.cancel_at is not None else None,
            "archived_at": None,
            "results_url": f"{self.sim.base_url}/v1/messages/batches/{batch.id}/results"
            if batch.ended_at is not None
            else None,
        }
