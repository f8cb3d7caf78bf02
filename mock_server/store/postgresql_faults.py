"""Faults kept in a PostgreSQL store's database, so that every replica of a shared mock applies
the faults set through any of them, and a queue of forced ``next`` answers is consumed once
across all of them.

Every call the mock answers asks whether a fault applies: one indexed read. Only an answer
taken from a ``next`` queue writes (under a row lock, so two replicas never take the same one).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from typing import Any

from mock_server.faults import EVERY_SESSION, Draw, Fault, Forced, delay_of, described, forced_draw
from mock_server.store.postgresql import pool_for, reachable

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


class DatabaseFaults:
    blocking = True

    def __init__(self, url: str, rng: random.Random | None = None) -> None:
        self.url = url
        self._rng = rng or random.Random()
        pool_for(url)  # opened with the store: its tables, refund_mock_faults among them

    def set(self, api: str, operation_id: str, fault: Fault, session: str | None = None) -> None:
        settings = json.dumps({k: v for k, v in asdict(fault).items() if k != "next"})
        with reachable(self.url), pool_for(self.url).connection() as db:
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
        with reachable(self.url), pool_for(self.url).connection() as db:
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
