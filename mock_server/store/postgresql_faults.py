"""Faults kept in a PostgreSQL store's database, so that every replica of a shared mock applies
the faults set through any of them, and a queue of forced ``next`` answers is consumed once
across all of them.

Each replica knows which operations have a fault at all without asking the database per call:
it keeps the set of fault slots, read when it starts listening on the ``refund_mock_faults``
channel and read again on each notification, which every change of the faults sends as it
commits (PostgreSQL's LISTEN/NOTIFY). A call of an operation with no fault is answered at once;
only a call that a fault may apply to reads it (one indexed read), and only an answer taken
from a ``next`` queue writes (under a row lock, so two replicas never take the same one). While
a replica is not listening (its database restarted), it reads the database on every call.

The replica a fault is set or cleared through answers once every replica's listener has said
it read the change (``refund_mock_faults_read``): a client calling another replica next finds
the change applied there too.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import psycopg

from mock_server.faults import (
    EVERY_SESSION,
    Draw,
    Fault,
    Forced,
    Slot,
    delay_of,
    described,
    forced_draw,
)
from mock_server.store.postgresql import CONNECT_TIMEOUT_S, pool_for, reachable

CHANNEL = "refund_mock_faults"  # every change of the faults is said here as it commits
READ = "refund_mock_faults_read"  # each listener says here which change it has read
LISTENER = "refund-mock fault listener"  # its connection's name, as pg_stat_activity shows it
# A change's notification, and how many listeners it goes to (each will say it read it).
NOTIFY = (
    "SELECT pg_notify(%s, %s), (SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name = %s)"
)
SETTLE_S = 2.0  # how long a change waits for every listener to have read it
POLL_S = 0.5  # how often the listener looks up from waiting (to stop when asked)
RETRY_S = 1.0  # how long the listener waits before listening again after losing its database

# A session's own fault before the one set for every session ('' sorts last when descending).
FIND = (
    "SELECT session, fault, queued FROM refund_mock_faults"
    " WHERE api = %s AND operation = %s AND session = ANY(%s)"
    " ORDER BY session DESC LIMIT 1"
)


# The queue is an integer column: a connection fault queued among error statuses is kept as its
# code here (no HTTP status is below 100). Codes never change: queues outlive a version.
QUEUED_CODES = {
    "reset": 1,
    "reset-mid-body": 2,
    "empty": 3,
    "malformed-json": 4,
    "truncated": 5,
    "slow": 6,
}
QUEUED_NAMES = {code: name for name, code in QUEUED_CODES.items()}


def _stored(queue: tuple[Forced, ...]) -> list[int]:
    return [QUEUED_CODES[forced] if isinstance(forced, str) else forced for forced in queue]


def _read(queue: list[int]) -> list[Forced]:
    return [QUEUED_NAMES.get(forced, forced) for forced in queue]


class FaultSlots:
    """The slots holding a fault, as this process last read them, kept current by a listener
    thread on its own connection; unknown (None) while not listening.

    Each listener says on ``READ`` which change it has read, so the replica making a change can
    wait until every listener of the database has read it."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.slots: frozenset[Slot] | None = None
        self._reads: dict[str, int] = {}  # this replica's changes -> listeners that read them
        self._changed = threading.Condition()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._listen, name=LISTENER)
        self._thread.daemon = True  # never holds up the process's exit
        self._thread.start()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                with psycopg.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    application_name=LISTENER,
                    keepalives=1,  # a connection cut without a word is found, not waited on
                    keepalives_idle=5,
                    keepalives_interval=2,
                    keepalives_count=3,
                ) as db:
                    db.execute(f"LISTEN {CHANNEL}")
                    db.execute(f"LISTEN {READ}")
                    self._read(db, ())  # after LISTEN: no change falls between the two
                    while not self._stopped.is_set():
                        # Gathered first: the connection is locked while notifies() runs.
                        for note in list(db.notifies(timeout=POLL_S, stop_after=1)):
                            if note.channel == CHANNEL:
                                self._read(db, (note.payload,))
                            else:
                                self._count_read(note.payload)
            except Exception:
                pass
            with self._changed:
                self.slots = None  # until it listens again
                self._changed.notify_all()
            self._stopped.wait(RETRY_S)

    def _read(self, db: psycopg.Connection[Any], notes: tuple[str, ...]) -> None:
        rows = db.execute("SELECT session, api, operation FROM refund_mock_faults").fetchall()
        with self._changed:
            self.slots = frozenset((session, api, operation) for session, api, operation in rows)
            self._changed.notify_all()
        for note in notes:
            db.execute("SELECT pg_notify(%s, %s)", (READ, note))

    def _count_read(self, note: str) -> None:
        with self._changed:
            if note in self._reads:
                self._reads[note] += 1
                self._changed.notify_all()

    def expect(self, note: str) -> None:
        """Count the listeners that read the change ``note`` from now on."""
        with self._changed:
            self._reads[note] = 0

    def forget(self, note: str) -> None:
        with self._changed:
            self._reads.pop(note, None)

    def settled(self, note: str, listeners: int) -> None:
        """Wait (``SETTLE_S`` at most) until ``listeners`` listeners read the change ``note``;
        not at all while this one is not listening (its calls read the database then)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._reads[note] >= listeners or self.slots is None, SETTLE_S
            )
        self.forget(note)

    def listening(self, timeout: float) -> bool:
        """Whether the listener has read the slots, waiting ``timeout`` seconds at most."""
        with self._changed:
            return self._changed.wait_for(lambda: self.slots is not None, timeout)

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(POLL_S + CONNECT_TIMEOUT_S)


class DatabaseFaults:
    blocking = True

    def __init__(self, url: str, rng: random.Random | None = None) -> None:
        self.url = url
        self._rng = rng or random.Random()
        pool_for(url)  # opened with the store: its tables, refund_mock_faults among them
        self._slots = FaultSlots(url)

    def none_set(self, api: str, operation_id: str, session: str | None = None) -> bool:
        slots = self._slots.slots
        return (
            slots is not None
            and (session or EVERY_SESSION, api, operation_id) not in slots
            and (EVERY_SESSION, api, operation_id) not in slots
        )

    def set(self, api: str, operation_id: str, fault: Fault, session: str | None = None) -> None:
        settings = json.dumps({k: v for k, v in asdict(fault).items() if k != "next"})
        with self._changing() as db:
            db.execute(
                "INSERT INTO refund_mock_faults (session, api, operation, fault, queued)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (api, operation, session)"
                " DO UPDATE SET fault = EXCLUDED.fault, queued = EXCLUDED.queued",
                (session or EVERY_SESSION, api, operation_id, settings, _stored(fault.next)),
            )

    def clear(
        self,
        api: str | None = None,
        operation_id: str | None = None,
        session: str | None = None,
    ) -> bool:
        with self._changing() as db:
            if api is None or operation_id is None:
                if session:
                    db.execute("DELETE FROM refund_mock_faults WHERE session = %s", (session,))
                else:
                    db.execute("DELETE FROM refund_mock_faults")
                return True
            removed = db.execute(
                "DELETE FROM refund_mock_faults WHERE api = %s AND operation = %s AND session = %s",
                (api, operation_id, session or EVERY_SESSION),
            )
            return removed.rowcount > 0

    @contextlib.contextmanager
    def _changing(self) -> Iterator[psycopg.Connection[Any]]:
        """A transaction changing the faults: it tells every replica as it commits, and ends
        once every replica listening has read the change (or after ``SETTLE_S``)."""
        note = uuid.uuid4().hex
        self._slots.expect(note)
        try:
            with reachable(self.url), pool_for(self.url).connection() as db, db.transaction():
                yield db
                told = db.execute(NOTIFY, (CHANNEL, note, LISTENER)).fetchone()
        except BaseException:
            self._slots.forget(note)  # nothing changed: no listener will say it read it
            raise
        self._slots.settled(note, told[1] if told else 0)

    def listening(self, timeout: float) -> bool:
        """Whether this replica knows the fault slots (is told of changes), waiting
        ``timeout`` seconds at most for its listener."""
        return self._slots.listening(timeout)

    def close(self) -> None:
        self._slots.close()

    def listing(self) -> list[dict[str, Any]]:
        with reachable(self.url), pool_for(self.url).connection() as db:
            rows = db.execute(
                "SELECT session, api, operation, fault, queued FROM refund_mock_faults"
                ' ORDER BY session COLLATE "C", api COLLATE "C", operation COLLATE "C"'
            ).fetchall()
        return [_described(*row) for row in rows]

    def described(self, api: str, operation_id: str, session: str | None = None) -> dict[str, Any]:
        with reachable(self.url), pool_for(self.url).connection() as db:
            row = db.execute(
                "SELECT session, api, operation, fault, queued FROM refund_mock_faults"
                " WHERE api = %s AND operation = %s AND session = %s",
                (api, operation_id, session or EVERY_SESSION),
            ).fetchone()
        if row is None:
            raise KeyError((session, api, operation_id))
        return _described(*row)

    def draw(self, api: str, operation_id: str, session: str | None = None) -> Draw:
        scopes = [session or EVERY_SESSION, EVERY_SESSION]
        with reachable(self.url), pool_for(self.url).connection() as db:
            found = db.execute(FIND, (api, operation_id, scopes)).fetchone()
            if found is None:
                return Draw()
            scope, settings, queued = found
            fault = Fault(**json.loads(settings))
            if queued:  # take the next forced answer, under the row's lock
                with db.transaction():
                    locked = db.execute(
                        "SELECT queued FROM refund_mock_faults WHERE api = %s AND operation = %s"
                        " AND session = %s FOR UPDATE",
                        (api, operation_id, scope),
                    ).fetchone()
                    if locked is not None and locked[0]:
                        db.execute(
                            "UPDATE refund_mock_faults SET queued = %s WHERE api = %s"
                            " AND operation = %s AND session = %s",
                            (locked[0][1:], api, operation_id, scope),
                        )
                        forced = _read(locked[0][:1])[0]
                        return forced_draw(fault, delay_of(fault, self._rng), forced, self._rng)
        return forced_draw(fault, delay_of(fault, self._rng), None, self._rng)


def _described(
    session: str, api: str, operation: str, settings: str, queued: list[int]
) -> dict[str, Any]:
    return described((session, api, operation), Fault(**json.loads(settings)), _read(queued))
