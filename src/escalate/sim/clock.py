"""The server's clock: wall time plus an offset tests move with ``advance``.

Cache TTLs and batch processing read this clock, so a test can expire a cache
entry or finish a batch without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward (cache entries expire, batches finish, as if time had passed)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    @staticmethod
    def iso(t: float) -> str:
        """RFC 3339 with microseconds and a Z, as the API writes timestamps."""
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
