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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mock_server.json_codec import decode, encode_text
from mock_server.store import (
    Condition,
    KeyExistsError,
    Listing,
    OneOf,
    PageQuery,
    Record,
    SessionGone,
    Stored,
    check_filters,
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
CREATE TABLE IF NOT EXISTS listing_counts (
    kind  TEXT NOT NULL,
    owner TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (kind, owner)
) WITHOUT ROWID;
"""
# A listing's size, kept as rows are added: counting 10^5 index entries per page would make a
# page's cost grow with the listing.
COUNT_ADDED = (
    "INSERT INTO listing_counts (kind, owner, count) VALUES (?, ?, 1)"
    " ON CONFLICT (kind, owner) DO UPDATE SET count = count + 1"
)
# Added after the first release: files made before it gain the column when opened.
SORT_VALUE = (
    "ALTER TABLE listings ADD COLUMN sort_value TEXT",
    "CREATE INDEX listings_sorted ON listings (kind, owner, sort_value, position)",
    "CREATE INDEX listings_by_key ON listings (kind, key)",
)
MAX_INTEGER = 2**63 - 1
REMOVE_ATTEMPTS = 5
BUSY_TIMEOUT_MS = 30_000  # other workers hold the write lock for a transaction at most


class SQLiteStore:
    blocking = True  # file I/O, and other workers' write locks

    def __init__(self, path: Path | str, deletable: bool = False) -> None:
        """The store in the file at ``path``; ``deletable`` for a session's, which another
        worker may delete while this one has it open."""
        self.path = str(path)
        self._deletable = deletable
        # One transaction of this process at a time; it also guards the connection.
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._listings: dict[str, Listing] = {}
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
            columns = {row[1] for row in tx.db.execute("PRAGMA table_info(listings)")}
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
    def transaction(self) -> Iterator[_SQLiteTransaction]:
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
                yield _SQLiteTransaction(db, self._listings)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def index(self, listing: Listing) -> None:
        if self._listings.get(listing.kind) == listing:
            return  # each session's services declare it again; the backfill ran once already
        with self.transaction() as tx:
            self._listings[listing.kind] = listing
            # Rows added before the kind was indexed (or by an older version) get their value.
            tx.db.execute(
                "UPDATE listings SET sort_value = (SELECT coalesce(json_extract(r.body, ?), '')"
                " FROM records r WHERE r.kind = listings.kind AND r.key = listings.key)"
                " WHERE kind = ? AND sort_value IS NULL",
                (f"$.{listing.order_by}", listing.kind),
            )

    def clear(self) -> None:
        with self.transaction() as tx:
            _delete_all(tx.db)

    def export(self) -> list[Stored]:
        with self.transaction() as tx:
            rows = tx.db.execute(
                "SELECT r.kind, r.key, r.body, json_group_array(l.owner)"
                " FROM records r JOIN listings l ON l.kind = r.kind AND l.key = r.key"
                " GROUP BY r.kind, r.key ORDER BY min(l.position)"
            ).fetchall()
        return [
            Stored(kind, key, tuple(decode(owners)), decode(body))
            for kind, key, body, owners in rows
        ]

    def replace_all(self, records: list[Stored]) -> None:
        with self.transaction() as tx:
            _delete_all(tx.db)
            for stored in records:
                tx.add(stored.kind, stored.key, stored.record, stored.owners)

    def is_empty(self) -> bool:
        with self.transaction() as tx:
            return tx.is_empty()

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


def _delete_all(db: sqlite3.Connection) -> None:
    for table in ("records", "listings", "listing_counts"):
        db.execute(f"DELETE FROM {table}")


class _SQLiteTransaction:
    def __init__(self, db: sqlite3.Connection, listings: dict[str, Listing]) -> None:
        self.db = db
        self._listings = listings

    def _sort_value(self, kind: str, record: Record) -> str | None:
        listing = self._listings.get(kind)
        return None if listing is None else listing.order_value(record)

    def is_empty(self) -> bool:
        return self.db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    def clear(self) -> None:
        _delete_all(self.db)

    def get(self, kind: str, key: str) -> Record | None:
        row = self.db.execute(
            "SELECT body FROM records WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return decode(row[0]) if row is not None else None

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        try:
            self.db.execute(
                "INSERT INTO records (kind, key, body) VALUES (?, ?, ?)",
                (kind, key, encode_text(record)),
            )
        except sqlite3.IntegrityError as exc:
            raise KeyExistsError(f"{kind} {key!r} already exists") from exc
        sort_value = self._sort_value(kind, record)
        self.db.executemany(
            "INSERT INTO listings (kind, owner, key, sort_value) VALUES (?, ?, ?, ?)",
            [(kind, owner, key, sort_value) for owner in owners],
        )
        self.db.executemany(COUNT_ADDED, [(kind, owner) for owner in owners])

    def replace(self, kind: str, key: str, record: Record) -> None:
        updated = self.db.execute(
            "UPDATE records SET body = ? WHERE kind = ? AND key = ?",
            (encode_text(record), kind, key),
        )
        if updated.rowcount == 0:
            raise KeyError(f"{kind} {key!r} does not exist")
        if kind in self._listings:
            self.db.execute(
                "UPDATE listings SET sort_value = ? WHERE kind = ? AND key = ?",
                (self._sort_value(kind, record), kind, key),
            )

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        rows = self.db.execute(
            "SELECT r.body FROM listings l JOIN records r ON r.kind = l.kind AND r.key = l.key"
            " WHERE l.kind = ? AND l.owner = ? ORDER BY l.position",
            (kind, owner),
        ).fetchall()
        return (decode(body) for (body,) in rows)

    def page(self, kind: str, owner: str, query: PageQuery) -> tuple[list[Record], int]:
        listing = self._listings[kind]
        filters, arguments = _sql_filters(listing, query.where)
        scope = (
            " FROM listings l JOIN records r ON r.kind = l.kind AND r.key = l.key"
            f" WHERE l.kind = ? AND l.owner = ?{filters}"
        )
        scope_arguments = (kind, owner, *arguments)
        direction = "DESC" if query.descending else "ASC"
        rows = self.db.execute(
            f"SELECT r.body{scope} ORDER BY l.sort_value {direction}, l.position {direction}"
            " LIMIT ? OFFSET ?",
            # SQLite integers stop at 2^63 - 1; the contracts allow any offset, and past the end
            # is past the end however far.
            (*scope_arguments, min(query.limit, MAX_INTEGER), min(query.offset, MAX_INTEGER)),
        ).fetchall()
        if filters:
            (total,) = self.db.execute(f"SELECT count(*){scope}", scope_arguments).fetchone()
        else:
            counted = self.db.execute(
                "SELECT count FROM listing_counts WHERE kind = ? AND owner = ?", (kind, owner)
            ).fetchone()
            total = counted[0] if counted is not None else 0
        return [decode(body) for (body,) in rows], total


def _sql_filters(listing: Listing, where: tuple[Condition, ...]) -> tuple[str, list[str]]:
    """SQL for a page's conditions (``AND ...``), evaluated on the records' JSON."""
    check_filters(listing, where)
    sql: list[str] = []
    arguments: list[str] = []
    for condition in where:
        path = f"$.{condition.field}"
        if isinstance(condition, OneOf):
            marks = ", ".join("?" * len(condition.values))
            sql.append(f" AND json_extract(r.body, ?) IN ({marks})")
            arguments.extend([path, *sorted(condition.values)])
            continue
        if condition.low is not None:
            sql.append(" AND json_extract(r.body, ?) >= ?")
            arguments.extend([path, condition.low])
        if condition.high is not None:
            sql.append(" AND json_extract(r.body, ?) < ?")
            arguments.extend([path, condition.high])
    return "".join(sql), arguments
