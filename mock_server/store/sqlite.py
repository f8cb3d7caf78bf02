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

SQLite opens a file's ``-wal`` and ``-shm`` by name. A connection opened on a session's file
after its deleter unlinked them, but before the file itself, would make new ones at the path,
left behind for the next file made there to take as its own (seen: ``no such table: records``
in a session made anew). So the two things done to session files by name exclude each other
across workers and threads (``FileGate``): opening a connection, until SQLite has opened those
files, and deleting.

WAL mode with ``synchronous=NORMAL``: a commit is in the WAL before the request is answered, so a
killed process loses nothing it acknowledged (only a power cut could drop the last commits).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from mock_server.json_codec import decode
from mock_server.store import SessionGone
from mock_server.store.sql import (
    Connection,
    Dialect,
    SqlStore,
    SqlTransaction,
    Statements,
    run_each,
)

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
CREATE TABLE IF NOT EXISTS incarnation (id TEXT NOT NULL);
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


class FileGate:
    """Opening a connection on a session file and deleting one, in the folder that holds them,
    exclude each other: openers hold the folder's lock shared, a deleter (and the one who
    counts and makes a new session) exclusively. A lock of its own per use, so threads of one
    process exclude each other as workers do."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def opening(self) -> AbstractContextManager[None]:
        return self._held(fcntl.LOCK_SH)

    def exclusive(self) -> AbstractContextManager[None]:
        return self._held(fcntl.LOCK_EX)

    @contextmanager
    def _held(self, mode: int) -> Iterator[None]:
        lock = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(lock, mode)
            yield
        finally:
            os.close(lock)  # and with it the lock


class SQLiteStore(SqlStore):
    def __init__(self, path: Path | str, gate: FileGate | None = None) -> None:
        """The store in the file at ``path``; a ``gate`` for a session's, which another worker
        may delete while this one has it open (SessionGone if it is gone already)."""
        super().__init__()
        self.path = str(path)
        self._gate = gate
        # One transaction of this process at a time; it also guards the connection.
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._incarnation: str | None = None  # set below, by the first transaction
        with self._lock:
            with self._opening():
                try:  # a session's file is made by whoever counts sessions, never here
                    held = os.open(self.path, os.O_RDWR | (0 if gate else os.O_CREAT), 0o644)
                except FileNotFoundError:
                    if gate is None:
                        raise  # no such folder: the caller says so in one line
                    raise SessionGone(f"{self.path} was deleted") from None
                try:
                    opened = os.fstat(held)
                finally:
                    os.close(held)
                # Which file the connection opens: the gate keeps the path naming it meanwhile.
                self._file: tuple[int, int] | None = (opened.st_dev, opened.st_ino)
                db = self._db = self._open_connection()
            try:
                db.executescript(SCHEMA)
            except sqlite3.Error:
                self._close()
                raise
        with self.transaction() as tx:  # another worker may be adding the column at once
            self._incarnation = _incarnation(tx.db) or _new_incarnation(tx.db)
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

    def _connection(self) -> sqlite3.Connection:
        """The store's one connection, opened on first use and again after ``close`` (then only
        on the file it was made on: SessionGone if that was deleted meanwhile).

        One is enough, and holds three file descriptors (the file, its WAL and shared memory)
        however many threads serve: every use is under ``_lock``, so no two threads share it at
        once. A connection per thread held ~40 per session (issue: 2,478 fds in one worker).
        """
        if self._db is None:
            with self._opening():
                if self._file is None or _identity(self.path) != self._file:
                    raise SessionGone(f"{self.path} was deleted")
                db = self._open_connection()
                # Closed, the file no longer held its inode: a file made anew at the path may
                # have been given the same number. Its incarnation tells them apart.
                if _incarnation(db) != self._incarnation:
                    db.close()
                    self._file = None
                    raise SessionGone(f"{self.path} was deleted")
                self._db = db
        return self._db

    def _open_connection(self) -> sqlite3.Connection:
        """A connection on the file at the path, which exists (held by the gate), with SQLite's
        ``-wal`` and ``-shm`` opened already: before the gate is let go."""
        db = connect_existing(self.path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _opening(self) -> AbstractContextManager[None]:
        return self._gate.opening() if self._gate else nullcontext()

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
            tx = SqlTransaction(db, run_each(db), STATEMENTS, None, self._listings)
            try:
                yield tx
                tx.flush()
            except sqlite3.IntegrityError as exc:
                db.execute("ROLLBACK")
                if "records.key" not in str(exc):  # "UNIQUE constraint failed: records.kind, ..."
                    raise
                raise tx.taken() from None  # a key taken, found as the writes were sent
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
            remove_file(self.path, self._gate)


def remove_file(path: str, gate: FileGate | None) -> None:
    """Delete a store's files, holding its write lock while doing so: a transaction of another
    worker either finished before, or finds the file gone once it holds the lock. A file made
    anew at the path meanwhile (another worker deleted this one first) is left alone.

    The write lock first, then the gate: waiting for a long transaction to end must not keep
    every worker from opening sessions meanwhile. Openers under the gate only read, which never
    waits for a writer, so the two orders cannot block each other."""
    with gate.opening() if gate else nullcontext():  # this connection opens -wal and -shm too
        try:
            held = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return  # deleted already
        try:
            opened = os.fstat(held)
            db = connect_existing(path)
        except sqlite3.OperationalError:
            return  # deleted meanwhile
        finally:
            os.close(held)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            db.close()
            return
    try:
        db.execute("BEGIN IMMEDIATE")
        with gate.exclusive() if gate else nullcontext():
            if _identity(path) == (opened.st_dev, opened.st_ino):  # the file whose lock is held
                # SQLite's own files first: while the database is still there nobody makes a
                # new one at the path, which would open files left beside it by name.
                for suffix in ("-wal", "-shm", "-journal", ""):
                    Path(path + suffix).unlink(missing_ok=True)
        db.execute("ROLLBACK")
    finally:
        # SQLite sees that its file was unlinked and neither checkpoints nor deletes by path on
        # close, so a new file made at the same path meanwhile is left alone.
        db.close()


def connect_existing(path: str) -> sqlite3.Connection:
    """A connection to the file at ``path``, never one made anew (``mode=rw``), committing each
    statement unless a transaction is begun, waiting out other workers' write locks."""
    uri = f"{Path(path).resolve().as_uri()}?mode=rw"
    return sqlite3.connect(
        uri,
        uri=True,
        isolation_level=None,
        timeout=BUSY_TIMEOUT_MS / 1000,
        check_same_thread=False,
    )


def unreadable(path: Path) -> str | None:
    """Why the store's file at ``path`` cannot be read now, None if it can: a connection of its
    own, which a writer holding the file does not hold up (WAL readers never wait)."""
    try:
        db = connect_existing(str(path))
    except sqlite3.Error as exc:
        return str(exc)
    try:
        db.execute("SELECT 1 FROM records LIMIT 1").fetchone()  # one row, not a scan of them all
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        db.close()
    return None


def create_file(path: Path) -> None:
    """Make the store's file at ``path`` whole (tables, WAL mode) before anyone else opens it:
    called while holding its gate, for a session's file."""
    SQLiteStore(path).close()


def _incarnation(db: Connection) -> str | None:
    """Which making of the file this is (None in a file that has none yet)."""
    try:
        row = db.execute("SELECT id FROM incarnation").fetchone()
    except sqlite3.OperationalError:  # no such table: another file at the path
        return None
    return None if row is None else str(row[0])


def _new_incarnation(db: Connection) -> str:
    made = secrets.token_hex(8)
    db.execute("INSERT INTO incarnation (id) VALUES (?)", (made,))
    return made


def _identity(path: str) -> tuple[int, int] | None:
    """Which file ``path`` names now (device and inode), None if none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino
