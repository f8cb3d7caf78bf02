"""Dataclasses <-> JSON-able store records, so every store keeps money exact and time in UTC."""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from mock_server.domain import DomainError
from mock_server.error_kinds import ErrorKind
from mock_server.paging import Page
from mock_server.store import Condition, Listing, PageQuery, Record, Transaction

T = TypeVar("T")


def to_record(obj: Any) -> Record:
    """A record of a dataclass: Decimal as its exact string, datetime as ISO 8601 UTC.

    Times are fixed-width (always microseconds), so their text order is their time order and the
    stores can sort and filter on the text.
    """
    record: Record = {}
    for name in _field_names(type(obj)):
        value = getattr(obj, name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime):
            value = stored_time(value)
        record[name] = value
    return record


def from_record(cls: type[T], record: Record) -> T:
    """The dataclass a record was made from. A field added to a model after a record was
    stored has a default (a SQLite file or an exported state of an earlier version reads)."""
    values: dict[str, Any] = {}
    for name, read in _readers(cls):
        if name not in record:
            continue  # the field's default; a field without one is a TypeError from cls()
        value = record[name]
        values[name] = read(value) if read is not None and value is not None else value
    return cls(**values)


# Worked out once per class: a list page reads a hundred records, and asking ``typing`` about
# each field of each one was most of the page's cost.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_READERS: dict[type, tuple[tuple[str, Callable[[Any], Any] | None], ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in dataclasses.fields(cls))
    return names


def _readers(cls: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """Each field's name, and what turns its stored value back into its type (None: as stored)."""
    readers = _READERS.get(cls)
    if readers is None:
        hints = typing.get_type_hints(cls)
        readers = _READERS[cls] = tuple((name, _reader(hints[name])) for name in _field_names(cls))
    return readers


def _reader(hint: Any) -> Callable[[Any], Any] | None:
    for target, read in ((Decimal, Decimal), (datetime, datetime.fromisoformat)):
        if hint is target or target in typing.get_args(hint):
            return read
    return None


def stored_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def add_new(
    tx: Transaction,
    kind: str,
    key: str,
    obj: Any,
    owners: Iterable[str] = ("",),
    *,
    taken: ErrorKind,
) -> None:
    """Store a new dataclass; a key already in use is the error ``taken`` (raised by the add,
    or as the transaction ends: ``Transaction.add``)."""
    tx.add(kind, key, to_record(obj), owners, DomainError(taken, f"Token already in use: {key}"))


def load(tx: Transaction, kind: str, key: str, cls: type[T]) -> T | None:
    """The stored dataclass, or None."""
    record = tx.get(kind, key)
    return from_record(cls, record) if record is not None else None


def load_owned(tx: Transaction, kind: str, owner: str, cls: type[T]) -> list[T]:
    return [from_record(cls, record) for record in tx.owned(kind, owner)]


def load_page(
    tx: Transaction,
    listing: Listing,
    owner: str,
    cls: type[T],
    offset: int,
    limit: int,
    descending: bool = False,
    where: tuple[Condition, ...] = (),
) -> Page[T]:
    """One page of an indexed listing as dataclasses (only the page's records are decoded)."""
    return decoded(load_records(tx, listing, owner, offset, limit, descending, where), cls)


def decoded(page: Page[Record], cls: type[T]) -> Page[T]:
    """A page of stored records as dataclasses."""
    return page.converted(functools.partial(from_record, cls))


def load_records(
    tx: Transaction,
    listing: Listing,
    owner: str,
    offset: int,
    limit: int,
    descending: bool = False,
    where: tuple[Condition, ...] = (),
) -> Page[Record]:
    """One page of an indexed listing as the store keeps it (for answers kept as written:
    mock_server.kept_answers)."""
    records, total = tx.page(listing.kind, owner, PageQuery(offset, limit, descending, where))
    return Page(items=records, offset=offset, total=total)
