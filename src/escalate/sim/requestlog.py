"""The request log: one record per request, always in memory, optionally JSONL on disk.

Records never hold credentials: only which auth header was used.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

LOGGED_HEADERS = (
    "anthropic-version",
    "anthropic-beta",
    "content-type",
    "accept",
    "user-agent",
    "x-stainless-retry-count",
    "x-stainless-timeout",
    "anthropic-workspace-id",
)


def safe_headers(headers) -> dict:
    """The headers that matter for tests, plus ``auth``: "x-api-key" | "bearer" | None (never the key)."""
    out = {name: headers.get(name) for name in LOGGED_HEADERS if headers.get(name) is not None}
    if headers.get("x-api-key"):
        out["auth"] = "x-api-key"
    elif (headers.get("authorization") or "").lower().startswith("bearer "):
        out["auth"] = "bearer"
    else:
        out["auth"] = None
    return out


class RequestLog:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self.records: list[dict] = []
        self._lock = threading.Lock()
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("", encoding="utf-8")

    def append(self, record: dict) -> None:
        with self._lock:
            record["seq"] = len(self.records) + 1
            self.records.append(record)
            if self.path:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.records)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()
