"""Where the mock keeps its state, as ``--store`` names it: parsed once (``store_backend``) into
a backend that opens the default state and each session's, knows the sessions other processes
keep, holds the fault book, and is closed with the app (its connections with it).

This is the one module that reads a ``--store`` spelling."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from mock_server.entry import wheel_name
from mock_server.faults import FaultBook, Faults
from mock_server.store import SessionLimitReached, Store, StoreError, StoreUnavailable
from mock_server.store.memory import MemoryStore
from mock_server.store.sqlite import (
    FileGate,
    SQLiteStore,
    connect_existing,
    create_file,
    remove_file,
    unreadable,
)

SQLITE = "sqlite:"  # the store's spelling is SQLITE + the file's path
POSTGRESQL = ("postgresql://", "postgres://")  # a libpq URL


class StoreBackend(Protocol):
    @property
    def shared(self) -> bool:
        """Whether several processes can serve from it (one file or database)."""

    def open(self) -> Store:
        """The default state's store."""

    def open_session(self, name: str, max_sessions: int) -> Store:
        """Session ``name``'s store, made if it does not exist yet unless ``max_sessions``
        exist (SessionLimitReached): counted and made as one step, whatever other workers or
        replicas do at the same time."""

    def stored_sessions(self) -> list[str]:
        """The sessions kept beyond this process (those of other workers and earlier runs)."""

    def session_stored(self, name: str) -> bool:
        """Whether session ``name`` is kept (another worker may have deleted it)."""

    def remove_session(self, name: str) -> None:
        """Delete a session this process does not hold open."""

    def stamp_session(self, name: str, at: float) -> None:
        """Session ``name`` was used at ``at`` (a timestamp), by this process: kept for every
        process to see (a shared store)."""

    def unused_sessions(self, before: float, now: float) -> list[str]:
        """The kept sessions last used before ``before``; one never stamped (made by an older
        version) is stamped ``now``."""

    def faults(self) -> Faults:
        """Where the faults set through the control API live."""

    @property
    def kind(self) -> str:
        """``memory``, ``sqlite`` or ``postgresql``: what readiness names."""

    def ping(self) -> None:
        """Return once the store answers a read (StoreUnavailable saying why if it cannot): what
        readiness asks. A store busy with long transactions still answers."""

    def described(self) -> str:
        """Which store this is, for the start-up banner."""

    def close(self) -> None:
        """Let go of what it holds (connections): the app's last step."""


def store_backend(url: str) -> StoreBackend:
    """The backend ``--store`` names: ``memory``, ``sqlite:PATH`` or
    ``postgresql://USER@HOST:PORT/DATABASE``. Nothing is opened yet."""
    if url == "memory":
        return MemoryBackend()
    if url.startswith(SQLITE) and url.removeprefix(SQLITE):
        return SQLiteBackend(Path(url.removeprefix(SQLITE)))
    if url.startswith(POSTGRESQL):
        if "#" in url:
            raise ValueError(f"--store {url!r}: a PostgreSQL URL names no state (#...)")
        try:
            from mock_server.store.postgresql_backend import PostgresBackend
        except ImportError:
            raise StoreError(
                "a PostgreSQL store needs the postgresql extra (psycopg): install the kit with"
                f" it, e.g. pip install '{wheel_name()}[mock,postgresql]'"
            ) from None
        return PostgresBackend(url)
    raise ValueError(
        f"unknown store {url!r}: expected 'memory', 'sqlite:PATH' or 'postgresql://...'"
    )


def open_store(url: str) -> Store:
    """The default state's store of ``url`` (for tools and tests that need only that)."""
    return store_backend(url).open()


class MemoryBackend:
    """State in this process: each session a store of its own, gone when the process is."""

    shared = False
    kind = "memory"

    def open(self) -> Store:
        return MemoryStore()

    def open_session(self, name: str, max_sessions: int) -> Store:
        return MemoryStore()

    def stored_sessions(self) -> list[str]:
        return []

    def session_stored(self, name: str) -> bool:
        return False

    def remove_session(self, name: str) -> None:
        pass  # nothing kept beyond the store, which its session discards

    def stamp_session(self, name: str, at: float) -> None:
        pass  # nothing kept beyond the process, which keeps its own uses (Sessions)

    def unused_sessions(self, before: float, now: float) -> list[str]:
        return []

    def faults(self) -> Faults:
        return FaultBook()

    def ping(self) -> None:
        pass  # in this process: it answers when the process does

    def described(self) -> str:
        return "memory (this process's own, gone when it stops)"

    def close(self) -> None:
        pass


class SQLiteBackend:
    """State in a file, shared by the workers; each session a file of its own in the folder
    ``PATH.sessions/`` (so every worker finds the same one).

    A session's file is ``NAME-HASH.db``: no session's file or SQLite's own files beside it
    (``-wal``, ``-shm``) can be another session's, and names that differ only in case get
    different files on file systems that ignore case."""

    shared = True
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self) -> Store:
        return _sqlite_store(self.path)

    def open_session(self, name: str, max_sessions: int) -> Store:
        folder = self.sessions_folder()
        gate = FileGate(folder)
        path = folder / _session_file_name(name)
        if not path.exists():
            with gate.exclusive():  # counted and made as one step, by one worker at a time
                if not path.exists():
                    if len(self.stored_sessions()) >= max_sessions:
                        raise SessionLimitReached(max_sessions)
                    create_file(path)  # whole before any other worker opens it
        return _sqlite_store(path, gate)

    def stored_sessions(self) -> list[str]:
        names = []
        for path in self.sessions_folder().glob("*.db"):
            name = path.stem.rsplit("-", 1)[0]
            if path.name == _session_file_name(name):
                names.append(name)
        return names

    def session_stored(self, name: str) -> bool:
        return self.session_file(name).exists()

    def remove_session(self, name: str) -> None:
        remove_file(str(self.session_file(name)), FileGate(self.sessions_folder()))

    def stamp_session(self, name: str, at: float) -> None:
        with self._uses() as db:
            db.execute(
                "INSERT INTO session_uses (name, used_at) VALUES (?, ?) ON CONFLICT (name)"
                " DO UPDATE SET used_at = max(used_at, excluded.used_at)",
                (name, at),
            )

    def unused_sessions(self, before: float, now: float) -> list[str]:
        stored = set(self.stored_sessions())
        with self._uses() as db:
            used = dict(db.execute("SELECT name, used_at FROM session_uses").fetchall())
            for name in used.keys() - stored:  # deleted since: its stamp goes too
                db.execute("DELETE FROM session_uses WHERE name = ?", (name,))
            for name in stored - used.keys():
                db.execute("INSERT OR IGNORE INTO session_uses VALUES (?, ?)", (name, now))
        return sorted(name for name in stored & used.keys() if used[name] < before)

    @contextmanager
    def _uses(self) -> Iterator[sqlite3.Connection]:
        """A connection to the table of the sessions' last uses, in the default state's file
        (one for every worker; never made anew here), committing each statement."""
        db = connect_existing(str(self.path))
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS session_uses"
                " (name TEXT PRIMARY KEY, used_at REAL NOT NULL) WITHOUT ROWID"
            )
            yield db
        finally:
            db.close()

    def faults(self) -> Faults:
        return FaultBook()  # per process: each worker keeps its own (docs/mock.md)

    def ping(self) -> None:
        reason = unreadable(self.path)
        if reason is not None:
            raise StoreUnavailable(f"the SQLite file {str(self.path)!r} cannot be read: {reason}")

    def described(self) -> str:
        return f"SQLite {self.path} (kept across restarts)"

    def close(self) -> None:
        pass  # each store closes its own file

    def sessions_folder(self) -> Path:
        folder = Path(f"{self.path}.sessions")
        folder.mkdir(exist_ok=True)
        return folder

    def session_file(self, name: str) -> Path:
        return self.sessions_folder() / _session_file_name(name)


def _session_file_name(name: str) -> str:
    return f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:12]}.db"


def _sqlite_store(path: Path, gate: FileGate | None = None) -> Store:
    try:
        return SQLiteStore(path, gate)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the SQLite store {str(path)!r}: {exc}") from None
