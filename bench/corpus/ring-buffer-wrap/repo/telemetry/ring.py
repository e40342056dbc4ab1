"""A fixed-size buffer of the most recent samples, for rolling averages on the device dashboard."""

from __future__ import annotations


class RingBuffer:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._data: list[float | None] = [None] * capacity
        self._next = 0
        self._size = 0

    def push(self, value: float) -> None:
        self._data[self._next] = value
        self._next = (self._next + 1) % (self.capacity - 1) if self.capacity > 1 else 0
        self._size = min(self._size + 1, self.capacity)

    def __len__(self) -> int:
        return self._size

    def values(self) -> list[float]:
        """Samples from oldest to newest."""
        if self._size < self.capacity:
            return [v for v in self._data[: self._size] if v is not None]
        ordered = self._data[self._next :] + self._data[: self._next]
        return [v for v in ordered if v is not None]

    def mean(self) -> float:
        vals = self.values()
        if not vals:
            raise ValueError("mean of an empty buffer")
        return sum(vals) / len(vals)
