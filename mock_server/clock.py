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
    # isoformat, not strftime: a list page writes two hundred of these, and strftime was a
    # quarter of the page's time (py-spy).
    return moment.astimezone(UTC).isoformat(timespec="seconds").removesuffix("+00:00") + "Z"


def format_timestamp_millis(moment: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ss.SSSZ``: UTC, milliseconds, as Marqeta's account example has them."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
