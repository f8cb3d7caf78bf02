"""``--lifecycle auto:DURATION``: refunds move along the forward path on their own.

Every refund that has not changed for DURATION moves one step (PENDING -> PROCESSING -> ...
-> COMPLETED), in every session and every vendor API that has a lifecycle
(``VendorRuntime.advance_due``), so a status screen can be watched changing. Each step is an
ordinary transition (recorded, balance rules applied) and re-checked inside its transaction, so
several worker processes running the timer never move a refund twice.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Protocol

from mock_server import background
from mock_server.clock import Clock
from mock_server.sessions import Session
from mock_server.store import SessionGone, StoreUnavailable
from mock_server.vendor import VendorRuntime

logger = logging.getLogger("mock_server")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}


def parse_lifecycle(spec: str) -> timedelta:
    """``auto:5s`` (also ``500ms``, ``2m``): how long a refund stays in each status."""
    kind, _, duration = spec.partition(":")
    matched = _DURATION.fullmatch(duration)
    if kind != "auto" or matched is None or float(matched.group(1)) == 0:
        raise ValueError(f"expected --lifecycle auto:DURATION (e.g. auto:5s), got {spec!r}")
    return timedelta(seconds=float(matched.group(1)) * _UNITS[matched.group(2)])


class _AllSessions(Protocol):
    def all(self) -> Iterable[Session]: ...

    def forget_gone(self, name: str, state: Session) -> None: ...


class AutoLifecycle:
    def __init__(
        self,
        sessions: _AllSessions,
        vendors: Mapping[str, VendorRuntime],
        step: timedelta,
        clock: Clock,
    ) -> None:
        self.sessions = sessions
        self.vendors = vendors
        self.step = step
        self.clock = clock

    def tick(self) -> int:
        """Move every refund that is due one step; how many moved. A session that fails (its
        database away, deleted meanwhile) is left for the next tick; the others still move."""
        cutoff = self.clock.now() - self.step
        moved = 0
        for session in self.sessions.all():
            for name, vendor in self.vendors.items():
                try:
                    moved += vendor.advance_due(session.store, cutoff)
                except SessionGone:  # deleted by another worker: what this one holds goes too
                    self.sessions.forget_gone(session.name or "", session)
                    break
                except StoreUnavailable as exc:
                    logger.warning("lifecycle tick: %s: %s", name, exc.message)
        return moved

    def running(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Tick in the background (a few times per step) while the block runs."""
        return background.every(
            min(self.step.total_seconds() / 4, 1.0), self.tick, "lifecycle tick"
        )
