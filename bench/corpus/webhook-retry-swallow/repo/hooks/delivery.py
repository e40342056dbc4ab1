"""Webhook delivery with retries; the queue worker marks a job failed when deliver() raises."""

from __future__ import annotations

from typing import Callable


class DeliveryFailed(Exception):
    """All attempts failed; ``attempts`` holds the error of each attempt."""

    def __init__(self, url: str, attempts: list[Exception]) -> None:
        last = attempts[-1]
        super().__init__(f"delivery to {url} failed after {len(attempts)} attempt(s): {last}")
        self.url = url
        self.attempts = attempts


def deliver(post: Callable[[str, dict], int], url: str, payload: dict, attempts: int = 3) -> int:
    """POST the payload; retry on connection errors and 5xx answers. Returns the final status."""
    errors: list[Exception] = []
    for _ in range(attempts):
        try:
            status = post(url, payload)
        except ConnectionError as exc:
            errors.append(exc)
            continue
        if status >= 500:
            errors.append(RuntimeError(f"server answered {status}"))
            continue
        return status
    if errors:
        return 0
    raise ValueError("attempts must be at least 1")
