"""SQLite store: state in one file, shared by every worker process, kept across restarts.

Each transaction is ``BEGIN IMMEDIATE``: it takes the database's write lock before its first
read, so a check and the write that depends on it (the balance bound) cannot interleave with
another transaction in this process or any other. A thread lock in front of it queues this
process's own transactions cheaply instead of leaving them to SQLite's busy-wait.

Indexed kinds keep each listing row's order value in ``listings.sort_value`` (indexed), so a page
is an index range read; filters are evaluated on the records' JSON.

A session's file can be deleted by another worker while this one has it open. Deletion takes
the write lock, unlinks the files and lets go; every transaction, once it holds the write lock,
checks that its path still names the file it opened (same inode), and raises SessionGone if not,
before reading or writing anything. A connection is only ever reopened on a file that exists
(``mode=rw``): reopening a deleted path would make an empty file without tables.

WAL mode with ``synchronous=NORMAL``: a commit is in the WAL before the request is answered, so a
killed process loses nothing it acknowledged (only a power cut could drop the last commits).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mock_server.json_codec import decode
from mock_server.store import SessionGone
from mock_server.store.sql import Dialect, SqlStore, SqlTransaction, Statements

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
CREATE TABLE IF NOT EXISTS listing_counts (
    kind  TEXT NOT NULL,
    owner TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (kind, owner)
) WITHOUT ROWID;
"""
# Added after the first release: files made before it gain the column when opened.
SORT_VALUE = (
    "ALTER TABLE listings ADD COLUMN sort_value TEXT",
    "CREATE INDEX listings_sorted ON listings (kind, owner, sort_value, position)",
    "CREATE INDEX listings_by_key ON listings (kind, key)",
)
REMOVE_ATTEMPTS = 5
BUSY_TIMEOUT_MS = 30_000  # other workers hold the write lock for a transaction at most


class SQLiteDialect(Dialect):
    """A state is a file of its own: no ``state`` column."""

    mark = "?"
    records, listings, counts = "records", "listings", "listing_counts"
    scoped = False
    owners = "json_group_array(l.owner)"

    def field(self) -> str:
        return f"json_extract(r.body, {self.mark})"

    def field_argument(self, field: str) -> str:
        return f"$.{field}"

    def decode_owners(self, aggregated: Any) -> list[str]:
        owners: list[str] = decode(aggregated)
        return owners


STATEMENTS = Statements(SQLiteDialect())


class SQLiteStore(SqlStore):
    def __init__(self, path: Path | str, deletable: bool = False) -> None:
        """The store in the file at ``path``; ``deletable`` for a session's, which another
        worker may delete while this one has it open."""
        super().__init__()
        self.path = str(path)
        self._deletable = deletable
        # One transaction of this process at a time; it also guards the connection.
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        with self._lock:
            # Which file the connection opened: the one a descriptor of ours held before it
            # connected, if the path still names that file after (an unlinked file never
            # comes back under its name, so the path named it throughout).
            held = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                opened = os.fstat(held)
                self._file: tuple[int, int] | None = (opened.st_dev, opened.st_ino)
                try:
                    self._connection(create=True).executescript(SCHEMA)
                except sqlite3.Error:
                    self._close()
                    if self._deletable:  # a session's files unlinked as it opened them
                        raise SessionGone(f"{self.path} could not be opened") from None
                    raise
                if _identity(self.path) != self._file:
                    self._close()
                    raise SessionGone(f"{self.path} was deleted while it was opened")
            finally:
                os.close(held)
        with self.transaction() as tx:  # another worker may be adding the column at once
            columns = {row[1] for row in tx.db.execute("PRAGMA table_info(listings)").fetchall()}
            if "sort_value" not in columns:
                for statement in SORT_VALUE:
                    tx.db.execute(statement)
            counted = tx.db.execute("SELECT 1 FROM listing_counts LIMIT 1").fetchone()
            if counted is None:  # a file from before listing_counts (or an empty one)
                tx.db.execute(
                    "INSERT INTO listing_counts (kind, owner, count)"
                    " SELECT kind, owner, count(*) FROM listings GROUP BY kind, owner"
                )

    def _connection(self, create: bool = False) -> sqlite3.Connection:
        """The store's one connection, opened on first use and again after ``close`` (then only
        on the file it was made on: SessionGone if that was deleted meanwhile).

        One is enough, and holds three file descriptors (the file, its WAL and shared memory)
        however many threads serve: every use is under ``_lock``, so no two threads share it at
        once. A connection per thread held ~40 per session (issue: 2,478 fds in one worker).
        """
        if self._db is None:
            if not create and (self._file is None or _identity(self.path) != self._file):
                raise SessionGone(f"{self.path} was deleted")
            try:
                db = _connect(self.path, "rwc" if create else "rw")
            except sqlite3.OperationalError as exc:
                if create:
                    raise
                raise SessionGone(f"{self.path} was deleted") from exc
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
        return self._db

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        with self._lock:
            db = self._connection()
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                if _identity(self.path) == self._file:
                    raise
                self._close()  # its files were unlinked under it (an I/O error, not a lock)
                raise SessionGone(f"{self.path} was deleted") from None
            if _identity(self.path) != self._file:  # deleted while this one waited for the lock
                db.execute("ROLLBACK")
                self._close()
                raise SessionGone(f"{self.path} was deleted")
            try:
                yield SqlTransaction(db, STATEMENTS, None, self._listings)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        """Release the connection; the next transaction opens it again."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def destroy(self) -> None:
        with self._lock:
            self._close()
            remove_file(self.path)


def remove_file(path: str) -> None:
    """Delete a store's files, holding its write lock while doing so: a transaction of another
    worker either finished before, or finds the file gone once it holds the lock. A file made
    anew at the path meanwhile (another worker deleted this one first) is left alone."""
    for _ in range(REMOVE_ATTEMPTS):
        try:
            _remove_locked(path)
            return
        except sqlite3.OperationalError:
            # Another worker was removing it at the same moment (its files went under this
            # connection): done when the file is gone, else once more.
            if not Path(path).exists():
                return
            time.sleep(0.05)
    _remove_locked(path)


def _remove_locked(path: str) -> None:
    try:
        held = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return  # deleted already
    try:
        opened = os.fstat(held)
        db = _connect(path, "rw")
    except sqlite3.OperationalError:
        os.close(held)
        return  # deleted meanwhile
    try:
        db.execute("BEGIN IMMEDIATE")
        if _identity(path) == (opened.st_dev, opened.st_ino):  # the file whose lock is held
            # SQLite's own files first: while the database is still there nobody makes a new
            # one at the path, which would open files left beside it by name.
            for suffix in ("-wal", "-shm", "-journal", ""):
                Path(path + suffix).unlink(missing_ok=True)
        db.execute("ROLLBACK")
    finally:
        os.close(held)
        # SQLite sees that its file was unlinked and neither checkpoints nor deletes by path on
        # close, so a new file made at the same path meanwhile is left alone.
        db.close()


def _connect(path: str, mode: str) -> sqlite3.Connection:
    """A connection to ``path``; ``mode`` ``rw`` never creates the file, ``rwc`` may."""
    uri = f"{Path(path).resolve().as_uri()}?mode={mode}"
    return sqlite3.connect(
        uri,
        uri=True,
        isolation_level=None,
        timeout=BUSY_TIMEOUT_MS / 1000,
        check_same_thread=False,
    )


def _identity(path: str) -> tuple[int, int] | None:
    """Which file ``path`` names now (device and inode), None if none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino
