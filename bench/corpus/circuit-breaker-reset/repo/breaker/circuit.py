"""A circuit breaker for calls to the payment provider.

closed: calls go through; ``threshold`` consecutive failures open the circuit.
open: calls fail fast until ``cooldown`` seconds have passed, then one trial call is let through.
half-open: the trial call's success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


class CircuitOpen(Exception):
    pass


class CircuitBreaker:
    def __init__(
        self,
        threshold: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.state = "closed"
        self.failures = 0
        self._opened_at = 0.0

    def call(self, fn: Callable[[], T]) -> T:
        if self.state == "open":
            if self._clock() - self._opened_at < self.cooldown:
                raise CircuitOpen("payment provider circuit is open")
            self.state = "half-open"
        try:
            result = fn()
        except Exception:
            self._failure()
            raise
        self._success()
        return result

    def _failure(self) -> None:
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.threshold:
            self.state = "open"
            self._opened_at = self._clock()

    def _success(self) -> None:
        self.state = "closed"
