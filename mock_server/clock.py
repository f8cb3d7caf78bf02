"""UTC time, and the vendor's timestamp spelling."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ``: UTC, whole seconds, as the Marqeta documents spell it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
