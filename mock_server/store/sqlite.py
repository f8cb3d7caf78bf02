"""SQLite store: state in one file, shared by every worker process, kept across restarts.

Each transaction is ``BEGIN IMMEDIATE``: it takes the database's write lock before its first
read, so a check and the write that depends on it (the balance bound) cannot interleave with
another transaction in this process or any other. A thread lock in front of it queues this
process's own transactions cheaply instead of leaving them to SQLite's busy-wait.

WAL mode with ``synchronous=NORMAL``: a commit is in the WAL before the request is answered, so a
killed process loses nothing it acknowledged (only a power cut could drop the last commits).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mock_server.store import KeyExistsError, Record

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS listings (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    kind     TEXT NOT NULL,
    owner    TEXT NOT NULL,
    key      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS listings_by_owner ON listings (kind, owner, position);
"""
BUSY_TIMEOUT_MS = 30_000  # other workers hold the write lock for a transaction at most


class SQLiteStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.Lock()  # one transaction of this process at a time
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._connection().executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared between threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            # Used only by the thread that made it, but closed by whichever thread shuts down.
            db = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteTransaction]:
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteTransaction(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def clear(self) -> None:
        with self.transaction() as tx:
            tx.db.execute("DELETE FROM records")
            tx.db.execute("DELETE FROM listings")

    def is_empty(self) -> bool:
        with self.transaction() as tx:
            return tx.db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    def close(self) -> None:
        with self._lock, self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
            self._local = threading.local()


class _SQLiteTransaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get(self, kind: str, key: str) -> Record | None:
        row = self.db.execute(
            "SELECT body FROM records WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return json.loads(row[0]) if row is not None else None

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        try:
            self.db.execute(
                "INSERT INTO records (kind, key, body) VALUES (?, ?, ?)",
                (kind, key, json.dumps(record)),
            )
        except sqlite3.IntegrityError as exc:
            raise KeyExistsError(f"{kind} {key!r} already exists") from exc
        self.db.executemany(
            "INSERT INTO listings (kind, owner, key) VALUES (?, ?, ?)",
            [(kind, owner, key) for owner in owners],
        )

    def replace(self, kind: str, key: str, record: Record) -> None:
        updated = self.db.execute(
            "UPDATE records SET body = ? WHERE kind = ? AND key = ?",
            (json.dumps(record), kind, key),
        )
        if updated.rowcount == 0:
            raise KeyError(f"{kind} {key!r} does not exist")

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        rows = self.db.execute(
            "SELECT r.body FROM listings l JOIN records r ON r.kind = l.kind AND r.key = l.key"
            " WHERE l.kind = ? AND l.owner = ? ORDER BY l.position",
            (kind, owner),
        ).fetchall()
        return (json.loads(body) for (body,) in rows)
