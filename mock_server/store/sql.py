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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing
from typing import Any, Protocol

from mock_server.json_codec import decode, encode_text
from mock_server.store import (
    Condition,
    KeyExistsError,
    Listing,
    OneOf,
    PageQuery,
    Record,
    Stored,
    check_filters,
)

# Both databases' integers stop at 2^63 - 1; the contracts allow any offset, and past the end is
# past the end however far.
MAX_INTEGER = 2**63 - 1


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class ManyCursor(Protocol):
    def executemany(self, query: Any, parameters: Iterable[Sequence[Any]], /) -> object: ...

    def close(self) -> None: ...


class Connection(Protocol):
    """What the SQL here needs of a DB-API connection (sqlite3's and psycopg's alike)."""

    def execute(self, query: Any, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def cursor(self) -> ManyCursor: ...


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
        # Not an IntegrityError: on PostgreSQL that would abort the whole transaction.
        self.insert = (
            f"INSERT INTO {records} ({column}kind, key, body) VALUES ({value}{m}, {m}, {m})"
            " ON CONFLICT DO NOTHING"
        )
        self.list = (
            f"INSERT INTO {listings} ({column}kind, owner, key, sort_value)"
            f" VALUES ({value}{m}, {m}, {m}, {m})"
        )
        self.count_added = (
            f"INSERT INTO {counts} ({column}kind, owner, count) VALUES ({value}{m}, {m}, 1)"
            f" ON CONFLICT ({column}kind, owner) DO UPDATE SET count = {counts}.count + 1"
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


class SqlTransaction:
    """One transaction on one state, in either database."""

    def __init__(
        self,
        db: Connection,
        statements: Statements,
        state: str | None,
        listings: dict[str, Listing],
    ) -> None:
        """``state`` names the rows of a scoped dialect's state (None for a file of its own)."""
        self.db = db
        self._sql = statements
        self._dialect = statements.dialect
        self._scope: tuple[str, ...] = () if state is None else (state,)
        self._listings = listings

    def _sort_value(self, kind: str, record: Record) -> str | None:
        listing = self._listings.get(kind)
        return None if listing is None else self._dialect.to_text(listing.order_value(record))

    def is_empty(self) -> bool:
        return self.db.execute(self._sql.any_record, self._scope).fetchone() is None

    def clear(self) -> None:
        for statement in self._sql.delete:
            self.db.execute(statement, self._scope)

    def get(self, kind: str, key: str) -> Record | None:
        row = self.db.execute(
            self._sql.get, (*self._scope, kind, self._dialect.to_text(key))
        ).fetchone()
        return decode(row[0]) if row is not None else None

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        text = self._dialect.to_text
        inserted = self.db.execute(
            self._sql.insert, (*self._scope, kind, text(key), encode_text(record))
        )
        if inserted.rowcount == 0:
            raise KeyExistsError(f"{kind} {key!r} already exists")
        sort_value = self._sort_value(kind, record)
        owner_texts = [text(owner) for owner in owners]
        with closing(self.db.cursor()) as cursor:
            cursor.executemany(
                self._sql.list,
                [(*self._scope, kind, owner, text(key), sort_value) for owner in owner_texts],
            )
            cursor.executemany(
                self._sql.count_added, [(*self._scope, kind, owner) for owner in owner_texts]
            )

    def replace(self, kind: str, key: str, record: Record) -> None:
        stored_key = self._dialect.to_text(key)
        updated = self.db.execute(
            self._sql.update, (encode_text(record), *self._scope, kind, stored_key)
        )
        if updated.rowcount == 0:
            raise KeyError(f"{kind} {key!r} does not exist")
        if kind in self._listings:
            self.db.execute(
                self._sql.resort,
                (self._sort_value(kind, record), *self._scope, kind, stored_key),
            )

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        rows = self.db.execute(
            self._sql.owned, (*self._scope, kind, self._dialect.to_text(owner))
        ).fetchall()
        return (decode(body) for (body,) in rows)

    def page(self, kind: str, owner: str, query: PageQuery) -> tuple[list[Record], int]:
        listing = self._listings[kind]
        filters, arguments = self._filters(listing, query.where)
        scope_arguments = (*self._scope, kind, self._dialect.to_text(owner), *arguments)
        direction = "DESC" if query.descending else "ASC"
        m = self._dialect.mark
        rows = self.db.execute(
            f"SELECT r.body{self._sql.join}{filters}"
            f" ORDER BY l.sort_value {direction}, l.position {direction} LIMIT {m} OFFSET {m}",
            (*scope_arguments, min(query.limit, MAX_INTEGER), min(query.offset, MAX_INTEGER)),
        ).fetchall()
        if filters:
            counted = self.db.execute(
                f"SELECT count(*){self._sql.join}{filters}", scope_arguments
            ).fetchone()
        else:
            counted = self.db.execute(
                self._sql.count, (*self._scope, kind, self._dialect.to_text(owner))
            ).fetchone()
        total = counted[0] if counted is not None else 0
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
        self.db.execute(
            self._sql.backfill,
            (self._dialect.field_argument(listing.order_by), *self._scope, listing.kind),
        )

    def export(self) -> list[Stored]:
        rows = self.db.execute(self._sql.export, self._scope).fetchall()
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
