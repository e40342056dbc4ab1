"""Token-bucket rate limiting for the outbound webhook sender."""

from __future__ import annotations

import time
from typing import Callable


class TokenBucket:
    """Allows bursts of up to ``capacity`` calls, refilled at ``rate`` tokens per second."""

    def __init__(
        self, rate: float, capacity: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last
        self._last = now
        self._tokens = min(self.capacity, self._tokens + elapsed / self.rate)

    def try_acquire(self, tokens: int = 1) -> bool:
        self._refill()
        if self._tokens >= tokens:
            self._tokens -= tokens
            return True
        return False

    def wait_time(self, tokens: int = 1) -> float:
        """Seconds until ``tokens`` tokens are available."""
        self._refill()
        missing = max(0.0, tokens - self._tokens)
        return missing / self.rate
