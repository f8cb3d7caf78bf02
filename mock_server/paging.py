"""Offset pagination for every vendor API (Marqeta start_index/count, Balanced offset/limit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    offset: int
    total: int  # matching items across all pages

    @property
    def is_more(self) -> bool:
        return self.offset + len(self.items) < self.total

    def converted(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted (done for one page, not the whole list)."""
        return Page(
            items=[convert(item) for item in self.items], offset=self.offset, total=self.total
        )

    @property
    def end_index(self) -> int:
        # An empty page ends where it starts (contract x-mock-assumption on listRefunds).
        return self.offset + max(len(self.items) - 1, 0)
