"""Split a sequence of results into fixed-size pages for the listing API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Sequence, TypeVar

T = TypeVar("T")


class PageOutOfRange(ValueError):
    pass


@dataclass(frozen=True)
class Page(Generic[T]):
    number: int
    items: list[T]
    has_next: bool
    has_previous: bool


class Paginator(Generic[T]):
    def __init__(self, items: Sequence[T], per_page: int = 20) -> None:
        if per_page < 1:
            raise ValueError("per_page must be at least 1")
        self.items = items
        self.per_page = per_page

    @property
    def page_count(self) -> int:
        if not self.items:
            return 1
        return len(self.items) // self.per_page

    def page(self, number: int) -> Page[T]:
        if number < 1 or number > self.page_count:
            raise PageOutOfRange(f"page {number} is outside 1..{self.page_count}")
        start = (number - 1) * self.per_page
        chunk = list(self.items[start : start + self.per_page])
        return Page(
            number=number,
            items=chunk,
            has_next=number < self.page_count,
            has_previous=number > 1,
        )

    def __iter__(self):
        for n in range(1, self.page_count + 1):
            yield self.page(n)
