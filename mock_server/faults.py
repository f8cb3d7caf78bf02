"""Faults a developer sets per operation: latency, an error rate, or the next N answers.

A fault set with ``X-Mock-Session`` applies to that session's requests only; one set without it
applies to every request (a session's own fault on the same operation comes first). Kept in the
process (``FaultBook``: with ``--workers N`` on SQLite each worker has its own), or, on a
PostgreSQL store, in the database (``mock_server.store.postgresql_faults``): a fault set
through one replica applies on all, and a queue of ``next`` answers is shared.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

Forced = int | str  # an error status, or a connection fault's name (connection_faults.py)


@dataclass(frozen=True)
class Fault:
    latency_ms: int = 0
    jitter_ms: int = 0  # each answer waits latency_ms plus up to this much more
    error_rate: float = 0.0  # share of answers replaced by error_status
    error_status: int = 500
    next: tuple[Forced, ...] = ()  # the operation's next answers, in order, before anything else
    connection: str | None = None  # a connection fault every answer suffers (after ``next``)

    def statuses(self) -> set[int]:
        forced = {status for status in self.next if isinstance(status, int)}
        return forced | ({self.error_status} if self.error_rate else set())


@dataclass(frozen=True)
class Draw:
    delay_seconds: float = 0.0
    status: int | None = None  # an error status to answer with instead of the real answer
    connection: str | None = None  # a connection fault the answer suffers


def forced_draw(fault: Fault, delay: float, forced: Forced | None, rng: random.Random) -> Draw:
    """The draw of an answer under ``fault``: the next forced one if any was queued, else the
    fault's connection fault and an error at its rate."""
    if isinstance(forced, str):
        return Draw(delay, connection=forced)
    if isinstance(forced, int):
        return Draw(delay, status=forced)
    return Draw(delay, fails(fault, rng), fault.connection)


@dataclass
class _Set:
    fault: Fault
    queued: deque[Forced] = field(default_factory=deque)


EVERY_SESSION = ""  # the scope of a fault set without X-Mock-Session
Slot = tuple[str, str, str]  # (session or EVERY_SESSION, api, operationId)


class Faults(Protocol):
    blocking: bool  # whether a draw may wait (on a database): then it runs in a thread

    def set(
        self, api: str, operation_id: str, fault: Fault, session: str | None = None
    ) -> None: ...

    def clear(
        self,
        api: str | None = None,
        operation_id: str | None = None,
        session: str | None = None,
    ) -> bool: ...

    def listing(self) -> list[dict[str, Any]]: ...

    def described(
        self, api: str, operation_id: str, session: str | None = None
    ) -> dict[str, Any]: ...

    def draw(self, api: str, operation_id: str, session: str | None = None) -> Draw: ...

    def none_set(self, api: str, operation_id: str, session: str | None = None) -> bool:
        """True when no fault applies to this call, known without waiting (no database read):
        the call is then answered without a draw. False when one may apply."""


def delay_of(fault: Fault, rng: random.Random) -> float:
    """How long an answer under ``fault`` waits, in seconds."""
    return (fault.latency_ms + rng.uniform(0, fault.jitter_ms)) / 1000


def fails(fault: Fault, rng: random.Random) -> int | None:
    """The error status an answer under ``fault`` is replaced by, drawn at its rate."""
    failing = fault.error_rate > 0 and rng.random() < fault.error_rate
    return fault.error_status if failing else None


class FaultBook:
    blocking = False

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._faults: dict[Slot, _Set] = {}

    def set(self, api: str, operation_id: str, fault: Fault, session: str | None = None) -> None:
        with self._lock:
            self._faults[(session or EVERY_SESSION, api, operation_id)] = _Set(
                fault, deque(fault.next)
            )

    def clear(
        self,
        api: str | None = None,
        operation_id: str | None = None,
        session: str | None = None,
    ) -> bool:
        """Remove one operation's fault (False if it had none), or every fault of the session
        (every fault there is, without one)."""
        with self._lock:
            if api is None or operation_id is None:
                for slot in [slot for slot in self._faults if not session or slot[0] == session]:
                    del self._faults[slot]
                return True
            return self._faults.pop((session or EVERY_SESSION, api, operation_id), None) is not None

    def listing(self) -> list[dict[str, Any]]:
        """Each fault, with the forced answers still queued as its ``next``."""
        with self._lock:
            return [
                described(slot, entry.fault, entry.queued)
                for slot, entry in sorted(self._faults.items())
            ]

    def described(self, api: str, operation_id: str, session: str | None = None) -> dict[str, Any]:
        slot = (session or EVERY_SESSION, api, operation_id)
        with self._lock:
            entry = self._faults[slot]
            return described(slot, entry.fault, entry.queued)

    def none_set(self, api: str, operation_id: str, session: str | None = None) -> bool:
        return not self._faults  # the common case costs one dictionary check, no lock

    def draw(self, api: str, operation_id: str, session: str | None = None) -> Draw:
        """What happens to this call: how long it waits, and the error it answers, if any."""
        if not self._faults:
            return Draw()
        with self._lock:
            entry = (session and self._faults.get((session, api, operation_id))) or (
                self._faults.get((EVERY_SESSION, api, operation_id))
            )
            if entry is None:
                return Draw()
            forced = entry.queued.popleft() if entry.queued else None
            return forced_draw(entry.fault, delay_of(entry.fault, self._rng), forced, self._rng)


def described(slot: Slot, fault: Fault, queued: Iterable[Forced]) -> dict[str, Any]:
    """A fault as the control API lists it, with the forced answers still queued as ``next``."""
    session, api, operation = slot
    scope = {"api": api, "operation": operation, "session": session or None}
    return scope | asdict(fault) | {"next": [*queued]}
