"""The one small interface every store implements.

State is a set of JSON-able records, each filed under a kind ("refund", "account", ...), a key
unique within that kind, and one or more owner keys (the account a refund belongs to, or "" for
top-level records) under which it is listed, in the order records were added.

All reads and writes happen inside ``store.transaction()``: the block sees a consistent state,
no other transaction interleaves with it, and its writes land together or not at all (an
exception inside the block discards them). Rules such as "never refund past zero" are therefore
one atomic check-and-write, whatever the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from mock_server.domain import DomainError
from mock_server.error_kinds import Common

Record = dict[str, Any]


@dataclass(frozen=True)
class Listing:
    """A kind whose listings the store keeps ordered, so a page costs its size, not the list's.

    ``order_by`` names a string field whose text order is its value order (every time is stored
    as fixed-width ISO 8601 UTC); records with equal values keep the order they were added in.
    ``filter_by`` names the fields a page may be filtered on.
    """

    kind: str
    order_by: str
    filter_by: tuple[str, ...] = ()

    def order_value(self, record: Record) -> Any:
        """Where ``record`` sorts: its ``order_by`` value ("" when it has none, so first)."""
        return record.get(self.order_by) or ""


@dataclass(frozen=True)
class OneOf:
    """A page filter: ``field`` is one of ``values``."""

    field: str
    values: frozenset[str]


@dataclass(frozen=True)
class Within:
    """A page filter: ``low <= field < high`` in text order (either bound may be open)."""

    field: str
    low: str | None = None
    high: str | None = None


Condition = OneOf | Within


@dataclass(frozen=True)
class PageQuery:
    """Which page of a listing: ``limit`` records from ``offset``, in the listing's order
    (``descending`` reverses it, ties included), of those meeting every condition."""

    offset: int
    limit: int
    descending: bool = False
    where: tuple[Condition, ...] = ()


def check_filters(listing: Listing, where: Iterable[Condition]) -> None:
    """Refuse a page filtered on a field its listing does not declare (a programming error)."""
    unknown = {condition.field for condition in where} - set(listing.filter_by)
    if unknown:
        raise ValueError(f"{listing.kind} listings cannot be filtered on {sorted(unknown)}")


def matches(values: dict[str, Any], conditions: Iterable[Condition]) -> bool:
    """Whether a record's filter values meet every condition."""
    for condition in conditions:
        value = values.get(condition.field)
        if isinstance(condition, OneOf):
            if value not in condition.values:
                return False
        elif value is None or not (
            (condition.low is None or value >= condition.low)
            and (condition.high is None or value < condition.high)
        ):
            return False
    return True


@dataclass(frozen=True)
class Stored:
    """One record as the store holds it, for exporting and importing the whole state."""

    kind: str
    key: str
    owners: tuple[str, ...]
    record: Record


class StoreError(Exception):
    """A store that cannot be opened where it was asked to be: one line saying why."""


class KeyExistsError(Exception):
    """A record of this kind already has this key."""


class SessionGone(Exception):
    """The session this store holds was deleted (here, or by another worker or replica) since
    the store was opened. Raised before anything the transaction read is used and before
    anything it wrote is committed (as it begins; on PostgreSQL, with its first result or
    before its commit): the caller opens the session again (a new one, with the start
    fixtures) and retries, so a write that arrives after a delete lands in the new session
    instead of being lost."""


class SessionLimitReached(Exception):
    """A new session would pass ``--max-sessions`` (counted across workers and replicas)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class StoreUnavailable(DomainError):
    """The store cannot be reached (its database server is down or restarting): the request
    is answered 503 in the vendor's shape, and nothing it asked for was done."""

    def __init__(self, message: str) -> None:
        super().__init__(Common.STORE_UNAVAILABLE, message)


class StoreBusy(StoreUnavailable):
    """The request's state is held by other requests longer than a request waits (a long
    seed or export of the same session): 503 as well, saying so, and nothing was done."""


class Transaction(Protocol):
    def get(self, kind: str, key: str) -> Record | None: ...

    def is_empty(self) -> bool:
        """True when the store holds no record (this transaction's included)."""

    def add(
        self,
        kind: str,
        key: str,
        record: Record,
        owners: Iterable[str] = ("",),
        taken: Exception | None = None,
    ) -> None:
        """Add a new record listed under each of ``owners``.

        Without ``taken``, a key in use is a KeyExistsError at once (a store that sends its
        writes later reads the key for it). With ``taken``, the transaction raises that error
        and changes nothing: at once for a key this transaction has read (``get``,
        ``read_ahead``), and always on the memory store; otherwise a store that sends its
        writes later (SQLite, PostgreSQL: with the next read or the commit) may raise it only
        then, so the add must not be wrapped in a ``try``. A key a client chose is read ahead,
        so its "taken" answers where the add is, on every store."""

    def replace(self, kind: str, key: str, record: Record) -> None:
        """Overwrite an existing record (its owners and list positions stay)."""

    def read_ahead(self, *slots: tuple[str, str | None]) -> None:
        """The records (kind, key) this transaction is about to ``get``, or to add under a key
        a client chose (a key None or empty, one it did not choose, is passed over): a store
        that pays a round trip per read (PostgreSQL) reads them together now (sending the
        writes it keeps with them, so a key taken among those may fail here)."""

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        """The owner's records of this kind, oldest first."""

    def clear(self) -> None:
        """Remove every record (a reset: with the start fixtures seeded after it in the same
        transaction, concurrent resets cannot interleave)."""

    def page(self, kind: str, owner: str, query: PageQuery) -> tuple[list[Record], int]:
        """One page of the owner's records of an indexed kind, and how many match in all.

        Ordered by the kind's ``Listing.order_by`` (ties in the order added). Each condition's
        field must be in ``Listing.filter_by``. The records are read-only: a store may hand out
        the ones it keeps, which it never changes in place (a write stores a new record), so a
        page read earlier still shows the records as they were then (kept answers compare them).
        """


class Store(Protocol):
    # Whether a transaction may wait (on a file, on another process): if so, the app calls the
    # store from worker threads; if not, straight from the event loop.
    blocking: bool

    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def index(self, listing: Listing) -> None:
        """Keep this kind's listings ordered from now on (idempotent; records already stored
        are indexed too)."""

    def clear(self) -> None:
        """Forget every record."""

    def export(self) -> list[Stored]:
        """Every record with its owners, in the order they were added."""

    def replace_all(self, records: list[Stored]) -> None:
        """Make ``records`` (an ``export``) the whole state, at once: nothing changes if a key
        repeats (KeyExistsError)."""

    def is_empty(self) -> bool:
        """True when the store holds no record (a durable store may start with some)."""

    def close(self) -> None: ...

    def destroy(self) -> None:
        """Close the store and remove what it kept (a file store deletes its files). Every
        transaction begun on it afterwards, in any process, raises SessionGone."""
