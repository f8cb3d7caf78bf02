"""The SQL both durable stores run, written once over two dialects.

SQLite keeps each state in a file of its own; PostgreSQL keeps every state in the same tables,
told apart by a ``state`` column. Everything else is the same: records by kind and key, listings
in the order records were added (with each listing's size kept beside it, so a page does not
count the listing), pages ordered by a kept sort value and filtered on the records' JSON,
export and import. ``SqlTransaction`` and ``SqlStore`` do that; a ``Dialect`` says how each
database spells the little that differs (placeholders, table names, the JSON field, how text is
stored). The stores themselves keep only what is theirs: connections, locks, session lifetimes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from mock_server.json_codec import decode, encode_text
from mock_server.store import (
    Condition,
    KeyExistsError,
    Listing,
    OneOf,
    PageQuery,
    Record,
    StoreBusy,
    Stored,
    check_filters,
)

# Both databases' integers stop at 2^63 - 1; the contracts allow any offset, and past the end is
# past the end however far.
MAX_INTEGER = 2**63 - 1


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What the SQL here needs of a DB-API connection (sqlite3's and psycopg's alike)."""

    def execute(self, query: Any, parameters: Sequence[Any] = ..., /) -> Cursor: ...


Statement = tuple[str, Sequence[Any]]  # SQL with the dialect's marks, and their values
# Runs statements in order, in one round trip where the database allows it, and gives each
# one's rows ([] for a statement that returns none); an error stops the rest.
Runner = Callable[[Sequence[Statement]], list[list[Any]]]
ROWS_A_STATEMENT = 200  # rows one INSERT writes at most (SQLite caps a statement's values)
KEPT_AT_MOST = 1000  # writes kept before they are sent anyway (a big seed or import)


def run_each(db: Connection) -> Runner:
    """A runner for a database in this process (SQLite): a statement at a time."""
    return lambda statements: [db.execute(sql, values).fetchall() for sql, values in statements]


class Dialect(ABC):
    """How one database spells what the shared SQL needs."""

    mark: str  # a parameter's placeholder
    records: str  # the tables' names
    listings: str
    counts: str
    scoped: bool  # whether rows carry a ``state`` column (one set of tables for every state)
    owners: str  # an aggregate of a record's owners (``l.owner``), in the order they were listed

    @abstractmethod
    def field(self) -> str:
        """A field of the record ``r.body`` as text compared by code point; one parameter
        (the dialect's ``mark``), ``field_argument``, names the field."""

    @abstractmethod
    def field_argument(self, field: str) -> str: ...

    @abstractmethod
    def decode_owners(self, aggregated: Any) -> list[str]:
        """The ``owners`` aggregate as stored text, in listing order."""

    def to_text(self, value: str) -> str:
        """A key, owner or sort value as the database stores it."""
        return value

    def from_text(self, stored: str) -> str:
        return stored


@dataclass(frozen=True)
class Insert:
    """An INSERT of any number of rows: ``head`` VALUES, a ``row`` for each, then ``tail``."""

    head: str
    row: str
    tail: str = ""

    def of(self, rows: Sequence[Sequence[Any]]) -> list[Statement]:
        """Statements writing ``rows``, ``ROWS_A_STATEMENT`` at most each."""
        return [
            (
                f"{self.head} {', '.join([self.row] * len(chunk))}{self.tail}",
                [value for row in chunk for value in row],
            )
            for chunk in (
                rows[start : start + ROWS_A_STATEMENT]
                for start in range(0, len(rows), ROWS_A_STATEMENT)
            )
        ]


class Statements:
    """Every fixed statement of the shared SQL, spelled once for a dialect. A scoped dialect's
    statements take the state as their first WHERE parameter: after the values they set
    (``update``, ``resort``) or the field they read (``backfill``), before the rest."""

    def __init__(self, dialect: Dialect) -> None:
        m, records, listings, counts = (
            dialect.mark,
            dialect.records,
            dialect.listings,
            dialect.counts,
        )
        self.dialect = dialect
        state = f"state = {m} AND " if dialect.scoped else ""
        column = "state, " if dialect.scoped else ""
        value = f"{m}, " if dialect.scoped else ""
        self.join = (
            f" FROM {listings} l JOIN {records} r ON r.kind = l.kind AND r.key = l.key"
            + (" AND r.state = l.state" if dialect.scoped else "")
            + f" WHERE {'l.' if dialect.scoped else ''}{state}l.kind = {m} AND l.owner = {m}"
        )
        self.tables = (records, listings, counts)
        self.delete = [
            f"DELETE FROM {table}" + (f" WHERE state = {m}" if dialect.scoped else "")
            for table in self.tables
        ]
        self.any_record = (
            f"SELECT 1 FROM {records}"
            + (f" WHERE state = {m}" if dialect.scoped else "")
            + " LIMIT 1"
        )
        self.get = f"SELECT body FROM {records} WHERE {state}kind = {m} AND key = {m}"
        # A key taken is the database's unique violation: it stops the batch before its COMMIT,
        # and the store rolls back and raises the add's error (``SqlTransaction.taken``).
        self.insert = Insert(
            f"INSERT INTO {records} ({column}kind, key, body) VALUES", f"({value}{m}, {m}, {m})"
        )
        self.list = Insert(
            f"INSERT INTO {listings} ({column}kind, owner, key, sort_value) VALUES",
            f"({value}{m}, {m}, {m}, {m})",
        )
        self.count_added = Insert(
            f"INSERT INTO {counts} ({column}kind, owner, count) VALUES",
            f"({value}{m}, {m}, {m})",
            f" ON CONFLICT ({column}kind, owner) DO UPDATE"
            f" SET count = {counts}.count + excluded.count",
        )
        self.update = f"UPDATE {records} SET body = {m} WHERE {state}kind = {m} AND key = {m}"
        self.resort = (
            f"UPDATE {listings} SET sort_value = {m} WHERE {state}kind = {m} AND key = {m}"
        )
        self.owned = f"SELECT r.body{self.join} ORDER BY l.position"
        self.count = f"SELECT count FROM {counts} WHERE {state}kind = {m} AND owner = {m}"
        # Rows listed before their kind was indexed (or by an older version) get their value;
        # the field's name comes first, then the state.
        self.backfill = (
            f"UPDATE {listings} SET sort_value = (SELECT coalesce({dialect.field()}, '')"
            f" FROM {records} r WHERE r.kind = {listings}.kind AND r.key = {listings}.key"
            + (f" AND r.state = {listings}.state" if dialect.scoped else "")
            + f") WHERE {state}kind = {m} AND sort_value IS NULL"
        )
        self.export = (
            f"SELECT r.kind, r.key, r.body, {dialect.owners}"
            f" FROM {records} r JOIN {listings} l ON l.kind = r.kind AND l.key = r.key"
            + (f" AND l.state = r.state WHERE r.state = {m}" if dialect.scoped else "")
            + f" GROUP BY {'r.state, ' if dialect.scoped else ''}r.kind, r.key"
            " ORDER BY min(l.position)"
        )


@dataclass
class _Write:
    """A write not yet sent: a new record (its owners' stored texts), or a stored one's new
    body (``owners`` None)."""

    body: str
    sort_value: str | None
    owners: tuple[str, ...] | None
    taken: Exception | None = None


class SqlTransaction:
    """One transaction on one state, in either database.

    Every statement goes through the store's runner, in batches: what the transaction's start
    still has to send (PostgreSQL sends BEGIN and the state's lock with the first read), the
    writes kept since the last batch, then the read asked for, or COMMIT. So a PostgreSQL create
    that reads one record is two round trips. A record is read from the database once per
    transaction: under the state's lock only this transaction changes it, so ``get`` answers
    from the writes kept and the records read, and a replace of a missing record is a KeyError
    at once.
    """

    def __init__(
        self,
        db: Connection,
        run: Runner,
        statements: Statements,
        state: str | None,
        listings: dict[str, Listing],
        start: Sequence[Statement] = (),
        check_start: Callable[[list[list[Any]]], None] | None = None,
    ) -> None:
        """``state`` names the rows of a scoped dialect's state (None for a file of its own).
        ``start`` is sent before the first statement; ``check_start`` is given its results (a
        session's life, checked before anything of the transaction is used or committed)."""
        self.db = db
        self._run = run
        self._sql = statements
        self._dialect = statements.dialect
        self._scope: tuple[str, ...] = () if state is None else (state,)
        self._listings = listings
        self._start = list(start)
        self._check_start = check_start
        self._refused: Exception | None = None  # what the start's check raised
        self._cleared = False  # a clear is kept, sent before the writes kept after it
        self._emptied = False  # cleared in this transaction: what it did not write is not there
        self._writes: dict[tuple[str, str], _Write] = {}  # in the order first written
        # What this transaction knows of the stored records: a body read or sent, or None for
        # a key read and not found. Under the state's lock only this transaction changes them.
        self._known: dict[tuple[str, str], str | None] = {}
        self._sent: list[tuple[str, str, Exception | None]] = []  # adds sent: kind, key, taken

    def _sort_value(self, kind: str, record: Record) -> str | None:
        listing = self._listings.get(kind)
        return None if listing is None else self._dialect.to_text(listing.order_value(record))

    def _send(self, reads: Sequence[Statement], keep: bool = False) -> list[list[Any]]:
        """Send the start (the first time), the writes kept (unless ``keep``) and ``reads``:
        the reads' rows."""
        if self._refused is not None:  # the start was refused: nothing more goes out
            raise self._refused
        started = len(self._start)
        batch = [*self._start, *([] if keep else self._kept()), *reads]
        self._start = []
        results = self._run(batch)
        if self._check_start is not None:
            try:
                self._check_start(results[:started])
            except Exception as exc:
                self._refused = exc
                raise
            self._check_start = None
        return results[len(batch) - len(reads) :]

    def _get(self, kind: str, key: str) -> Statement:
        return (self._sql.get, (*self._scope, kind, self._dialect.to_text(key)))

    def _one(self, statement: str, parameters: Sequence[Any]) -> Any:
        """The first row a read finds (None if none)."""
        (rows,) = self._send([(statement, parameters)])
        return rows[0] if rows else None

    def commit(self, statement: Statement) -> None:
        """Send what is kept with ``statement`` (COMMIT) after it: one round trip, or two when
        the start must be checked first and nothing was read yet (the start alone, then)."""
        if self._check_start is not None:
            self._send([], keep=True)
        self._send([statement])

    def flush(self) -> None:
        """Send the start if not yet sent, and the writes kept (a key taken among them fails
        here): before statements run straight on ``db``, or before COMMIT."""
        self._send([])

    def is_empty(self) -> bool:
        return self._one(self._sql.any_record, self._scope) is None

    def clear(self) -> None:
        self._cleared = self._emptied = True
        self._writes.clear()  # what this transaction added goes too
        self._known.clear()

    def get(self, kind: str, key: str) -> Record | None:
        body = self._body(kind, key)
        if body is None:
            return None
        record: Record = decode(body)
        return record

    def _body(self, kind: str, key: str) -> str | None:
        """The record's JSON as this transaction sees it (read once from the database)."""
        written = self._writes.get((kind, key))
        if written is not None:
            return written.body
        if (kind, key) in self._known or self._emptied:
            return self._known.get((kind, key))
        row = self._one(*self._get(kind, key))
        body: str | None = None if row is None else row[0]
        self._known[(kind, key)] = body
        return body

    def read_ahead(self, *slots: tuple[str, str | None]) -> None:
        wanted = [
            (kind, key)
            for kind, key in dict.fromkeys(slots)
            if key and (kind, key) not in self._writes and (kind, key) not in self._known
        ]
        if not wanted or self._emptied:  # cleared in this transaction: nothing to read
            return
        found = self._send([self._get(kind, key) for kind, key in wanted])
        for slot, rows in zip(wanted, found, strict=True):
            self._known[slot] = rows[0][0] if rows else None

    def add(
        self,
        kind: str,
        key: str,
        record: Record,
        owners: Iterable[str] = ("",),
        taken: Exception | None = None,
    ) -> None:
        if taken is None:  # asked at once: read the key unless this transaction knows it
            if self._body(kind, key) is not None:
                raise KeyExistsError(f"{kind} {key!r} already exists")
        elif (kind, key) in self._writes or self._known.get((kind, key)) is not None:
            raise taken
        text = self._dialect.to_text
        self._writes[(kind, key)] = _Write(
            encode_text(record),
            self._sort_value(kind, record),
            tuple(text(owner) for owner in owners),
            taken,
        )
        if len(self._writes) >= KEPT_AT_MOST:
            self.flush()

    def replace(self, kind: str, key: str, record: Record) -> None:
        body, sort_value = encode_text(record), self._sort_value(kind, record)
        written = self._writes.get((kind, key))
        if written is not None:  # written in this transaction: its owners and error stay
            written.body, written.sort_value = body, sort_value
        elif self._body(kind, key) is not None:
            self._writes[(kind, key)] = _Write(body, sort_value, None)
        else:
            raise KeyError(f"{kind} {key!r} does not exist")

    def _kept(self) -> list[Statement]:
        """The statements of what was written since the last batch (they leave the kept)."""
        scope, text, sql = self._scope, self._dialect.to_text, self._sql
        statements: list[Statement] = (
            [(delete, scope) for delete in sql.delete] if self._cleared else []
        )
        self._cleared = False
        if not self._writes:
            return statements
        added = [(slot, write) for slot, write in self._writes.items() if write.owners is not None]
        changed = [(slot, write) for slot, write in self._writes.items() if write.owners is None]
        self._sent += [(kind, key, write.taken) for (kind, key), write in added]
        self._known.update((slot, write.body) for slot, write in self._writes.items())
        self._writes = {}
        counts: Counter[tuple[str, str]] = Counter()
        for (kind, _), write in added:
            counts.update((kind, owner) for owner in write.owners or ())
        statements += sql.insert.of([(*scope, kind, text(key), w.body) for (kind, key), w in added])
        statements += sql.list.of(
            [
                (*scope, kind, owner, text(key), write.sort_value)
                for (kind, key), write in added
                for owner in write.owners or ()
            ]
        )
        statements += sql.count_added.of(
            [(*scope, kind, owner, count) for (kind, owner), count in counts.items()]
        )
        for (kind, key), write in changed:
            statements.append((sql.update, (write.body, *scope, kind, text(key))))
            if kind in self._listings:
                statements.append((sql.resort, (write.sort_value, *scope, kind, text(key))))
        return statements

    def taken(self) -> Exception:
        """The error of the first add whose key the database refused as taken, asked after the
        transaction was rolled back (so only other transactions' records are seen): a query
        per add sent, in order, until one finds its key (a rare path)."""
        for kind, key, taken in self._sent:
            row = self.db.execute(*self._get(kind, key)).fetchone()
            if row is not None:
                return taken or KeyExistsError(f"{kind} {key!r} already exists")
        return StoreBusy(  # a record stored then was removed since: a reset or a deletion
            "The mock's state changed while this request wrote to it: nothing was done,"
            " send it again"
        )

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        (rows,) = self._send(
            [(self._sql.owned, (*self._scope, kind, self._dialect.to_text(owner)))]
        )
        return (decode(body) for (body,) in rows)

    def page(self, kind: str, owner: str, query: PageQuery) -> tuple[list[Record], int]:
        listing = self._listings[kind]
        filters, arguments = self._filters(listing, query.where)
        scope_arguments = (*self._scope, kind, self._dialect.to_text(owner), *arguments)
        direction = "DESC" if query.descending else "ASC"
        m = self._dialect.mark
        counting: Statement = (
            (f"SELECT count(*){self._sql.join}{filters}", scope_arguments)
            if filters
            else (self._sql.count, (*self._scope, kind, self._dialect.to_text(owner)))
        )
        rows, counted = self._send(
            [
                (
                    f"SELECT r.body{self._sql.join}{filters} ORDER BY l.sort_value {direction},"
                    f" l.position {direction} LIMIT {m} OFFSET {m}",
                    (
                        *scope_arguments,
                        min(query.limit, MAX_INTEGER),
                        min(query.offset, MAX_INTEGER),
                    ),
                ),
                counting,
            ]
        )
        total = counted[0][0] if counted else 0
        return [decode(body) for (body,) in rows], total

    def _filters(self, listing: Listing, where: tuple[Condition, ...]) -> tuple[str, list[Any]]:
        """SQL for a page's conditions (``AND ...``), evaluated on the records' JSON."""
        check_filters(listing, where)
        field, m = self._dialect.field(), self._dialect.mark
        parts: list[str] = []
        arguments: list[Any] = []
        for condition in where:
            named = self._dialect.field_argument(condition.field)
            if isinstance(condition, OneOf):
                if not condition.values:  # one of nothing: PostgreSQL refuses ``IN ()``
                    parts.append(" AND 1 = 0")
                    continue
                parts.append(f" AND {field} IN ({', '.join([m] * len(condition.values))})")
                arguments.extend([named, *sorted(condition.values)])
                continue
            if condition.low is not None:
                parts.append(f" AND {field} >= {m}")
                arguments.extend([named, condition.low])
            if condition.high is not None:
                parts.append(f" AND {field} < {m}")
                arguments.extend([named, condition.high])
        return "".join(parts), arguments

    def backfill(self, listing: Listing) -> None:
        field = self._dialect.field_argument(listing.order_by)
        self._send([(self._sql.backfill, (field, *self._scope, listing.kind))])

    def export(self) -> list[Stored]:
        (rows,) = self._send([(self._sql.export, self._scope)])
        from_text = self._dialect.from_text
        return [
            Stored(
                kind,
                from_text(key),
                tuple(from_text(owner) for owner in self._dialect.decode_owners(owners)),
                decode(body),
            )
            for kind, key, body, owners in rows
        ]


class SqlStore(ABC):
    """What a SQL store does through its transactions, the same in both databases."""

    blocking = True  # a file or a network round trip, and other processes' locks

    def __init__(self) -> None:
        self._listings: dict[str, Listing] = {}  # the kinds indexed, given to each transaction

    @abstractmethod
    def transaction(self) -> AbstractContextManager[SqlTransaction]: ...

    def index(self, listing: Listing) -> None:
        if self._listings.get(listing.kind) == listing:
            return  # declared again by another caller; the backfill ran once already
        with self.transaction() as tx:
            self._listings[listing.kind] = listing
            tx.backfill(listing)

    def clear(self) -> None:
        with self.transaction() as tx:
            tx.clear()

    def export(self) -> list[Stored]:
        with self.transaction() as tx:
            return tx.export()

    def replace_all(self, records: list[Stored]) -> None:
        with self.transaction() as tx:
            tx.clear()
            for stored in records:
                tx.add(stored.kind, stored.key, stored.record, stored.owners)

    def is_empty(self) -> bool:
        with self.transaction() as tx:
            return tx.is_empty()
