"""A retry decorator for flaky network calls."""

from __future__ import annotations

import functools
import time
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def retry(
    attempts: int = 1,
    delay: float = 0.5,
    backoff: float = 2.0,
    on: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError),
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[F], F]:
    """Call the function up to ``attempts`` times in all (3 by default), sleeping ``delay`` seconds
    after the first failure and multiplying the pause by ``backoff`` after each further one."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            pause = delay
            for attempt in range(1, attempts + 1):
                try:
                    return fn(*args, **kwargs)
                except on:
                    if attempt == attempts:
                        raise
                    sleep(pause)
                    pause *= backoff

        return wrapper  # type: ignore[return-value]

    return decorate
