"""A PostgreSQL database as the mock's store (``--store postgresql://...``): every state in the
same tables, sessions rows of their own, faults shared by the replicas. The backend holds the
process's connection pool to the database while the app runs, and lets go of it when closed."""

from __future__ import annotations

from mock_server.faults import Faults
from mock_server.store import Store, StoreUnavailable
from mock_server.store.postgresql import (
    PostgresStore,
    check_url,
    hold_pool,
    release_pool,
    remove_session,
    session_stored,
    stamp_session,
    stored_sessions,
    unreachable,
    unused_sessions,
)
from mock_server.store.postgresql_faults import DatabaseFaults


class PostgresBackend:
    shared = True
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        check_url(url)
        self.url = url
        self._held = False
        self._faults: DatabaseFaults | None = None

    def open(self) -> Store:
        self._hold()
        return PostgresStore(self.url)

    def open_session(self, name: str, max_sessions: int) -> Store:
        self._hold()
        return PostgresStore(self.url, name, max_sessions)

    def stored_sessions(self) -> list[str]:
        return stored_sessions(self.url)

    def session_stored(self, name: str) -> bool:
        return session_stored(self.url, name)

    def remove_session(self, name: str) -> None:
        remove_session(self.url, name)

    def stamp_session(self, name: str, at: float) -> None:
        stamp_session(self.url, name, at)

    def unused_sessions(self, before: float, now: float) -> list[str]:
        return unused_sessions(self.url, before, now)

    def faults(self) -> Faults:
        self._hold()
        if self._faults is None:
            self._faults = DatabaseFaults(self.url)
        return self._faults

    def ping(self) -> None:
        reason = unreachable(self.url)
        if reason is not None:
            raise StoreUnavailable(f"the PostgreSQL database cannot be reached: {reason}")

    def described(self) -> str:
        return f"PostgreSQL {self.url} (shared by its replicas)"  # no password: check_url

    def close(self) -> None:
        if self._faults is not None:
            self._faults.close()
            self._faults = None
        if self._held:
            self._held = False
            release_pool(self.url)

    def _hold(self) -> None:
        if not self._held:
            hold_pool(self.url)
            self._held = True
