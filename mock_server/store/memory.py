"""In-memory store: one process, one lock, writes staged until the transaction commits.

Records are kept as encoded JSON, as the SQLite store keeps them: a read decodes a fresh copy
(much cheaper than ``copy.deepcopy``), so no caller can change committed state through what it
read.

Indexed kinds also keep, per owner, a list of ``(order value, sequence, key)`` sorted with
``bisect``: a page is a slice of it, and only the page's records are decoded. Everything kept
per record lives in one slotted row, and repeated strings (owners, statuses) are shared, so
10^5 refunds cost tens of megabytes, not hundreds.
"""

from __future__ import annotations

import bisect
import itertools
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from mock_server.json_codec import decode, encode_text
from mock_server.store import (
    KeyExistsError,
    Listing,
    PageQuery,
    Record,
    Stored,
    check_filters,
    matches,
)

Slot = tuple[str, str]  # (kind, key) or (kind, owner)
Entry = tuple[str, int, str]  # (order value, sequence added, key)


class _Row:
    """One committed record: its JSON text, and what listings need to find and order it."""

    __slots__ = ("entry", "filters", "owners", "sequence", "text")

    def __init__(self, text: str, owners: tuple[str, ...], sequence: int) -> None:
        self.text = text
        self.owners = owners
        self.sequence = sequence
        self.entry: Entry | None = None  # its place in the sorted listings, if indexed
        self.filters: tuple[Any, ...] = ()  # its values of Listing.filter_by, if indexed


# The attributes that hold the state (everything but the lock and the declared listings).
_STATE = ("_rows", "_owned", "_counter", "_sorted", "_shared")


class MemoryStore:
    blocking = False  # a transaction is a few dictionary operations

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[Slot, _Row] = {}
        self._owned: dict[Slot, list[str]] = {}
        self._counter = itertools.count()
        self._listings: dict[str, Listing] = {}
        self._sorted: dict[Slot, list[Entry]] = {}
        self._shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per owner set

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        with self._lock:
            tx = _MemoryTransaction(self)
            yield tx
            tx.commit()

    def index(self, listing: Listing) -> None:
        with self._lock:
            if self._listings.get(listing.kind) == listing:
                return
            self._listings[listing.kind] = listing
            for slot in [slot for slot in self._sorted if slot[0] == listing.kind]:
                del self._sorted[slot]
            for (kind, key), row in self._rows.items():
                if kind == listing.kind:
                    row.entry = None
                    self._index_row(kind, key, row, decode(row.text))

    def clear(self) -> None:
        with self._lock:
            for table in (self._rows, self._owned, self._sorted, self._shared):
                table.clear()

    def is_empty(self) -> bool:
        with self._lock:
            return not self._rows

    def export(self) -> list[Stored]:
        with self._lock:
            slots = sorted(self._rows, key=lambda slot: self._rows[slot].sequence)
            return [
                Stored(kind, key, self._rows[(kind, key)].owners, self._record(kind, key))
                for kind, key in slots
            ]

    def replace_all(self, records: list[Stored]) -> None:
        replacement = MemoryStore()
        replacement._listings = dict(self._listings)
        with replacement.transaction() as tx:
            for stored in records:
                tx.add(stored.kind, stored.key, stored.record, stored.owners)
        with self._lock:  # swap in the finished state: readers never see half of it
            for name in _STATE:
                setattr(self, name, getattr(replacement, name))

    def close(self) -> None:
        """Nothing to release; present so every store closes the same way."""

    def _record(self, kind: str, key: str) -> Record:
        return decode(self._rows[(kind, key)].text)

    def _owners(self, owners: Iterable[str]) -> tuple[str, ...]:
        """The one shared tuple for these owners (all of an account's refunds share it)."""
        interned = tuple(sys.intern(owner) for owner in owners)
        return self._shared.setdefault(interned, interned)

    def _index_row(self, kind: str, key: str, row: _Row, record: Record) -> None:
        """File a committed record (new or changed) in its kind's sorted listings."""
        listing = self._listings.get(kind)
        if listing is None:
            return
        order = record.get(listing.order_by) or ""
        entry = (sys.intern(order) if isinstance(order, str) else order, row.sequence, key)
        for owner in row.owners:
            entries = self._sorted.setdefault((kind, owner), [])
            if row.entry is not None:
                del entries[bisect.bisect_left(entries, row.entry)]
            bisect.insort(entries, entry)
        row.entry = entry
        row.filters = tuple(_shared_value(record.get(name)) for name in listing.filter_by)


def _shared_value(value: Any) -> Any:
    # Statuses repeat and created_at often equals the order value: keep one copy of each.
    return sys.intern(value) if isinstance(value, str) else value


class _MemoryTransaction:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._written: dict[Slot, str] = {}
        # What an indexed kind's listings need of each written record, taken before it was
        # encoded (so the commit need not decode it again).
        self._indexed: dict[Slot, Record] = {}
        self._added: dict[Slot, list[str]] = {}
        self._new_owners: dict[Slot, tuple[str, ...]] = {}

    def get(self, kind: str, key: str) -> Record | None:
        text = self._written.get((kind, key))
        if text is None:
            row = self._store._rows.get((kind, key))
            text = row.text if row is not None else None
        return decode(text) if text is not None else None

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        if self._has(kind, key):
            raise KeyExistsError(f"{kind} {key!r} already exists")
        self._write(kind, key, record)
        self._new_owners[(kind, key)] = self._store._owners(owners)
        for owner in self._new_owners[(kind, key)]:
            self._added.setdefault((kind, owner), []).append(key)

    def replace(self, kind: str, key: str, record: Record) -> None:
        if not self._has(kind, key):
            raise KeyError(f"{kind} {key!r} does not exist")
        self._write(kind, key, record)

    def _write(self, kind: str, key: str, record: Record) -> None:
        self._written[(kind, key)] = encode_text(record)
        listing = self._store._listings.get(kind)
        if listing is not None:
            names = (listing.order_by, *listing.filter_by)
            self._indexed[(kind, key)] = {name: record.get(name) for name in names}

    def _has(self, kind: str, key: str) -> bool:
        return (kind, key) in self._written or (kind, key) in self._store._rows

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        keys = self._store._owned.get((kind, owner), []) + self._added.get((kind, owner), [])
        for key in keys:
            record = self.get(kind, key)
            if record is not None:
                yield record

    def page(self, kind: str, owner: str, query: PageQuery) -> tuple[list[Record], int]:
        listing = self._store._listings[kind]
        where, offset, limit = query.where, query.offset, query.limit
        check_filters(listing, where)
        if any(slot[0] == kind for slot in self._written):
            return self._page_with_staged_writes(listing, owner, query)
        entries = self._store._sorted.get((kind, owner), [])
        if where:
            rows, names = self._store._rows, listing.filter_by
            entries = [
                entry
                for entry in entries
                if matches(dict(zip(names, rows[(kind, entry[2])].filters, strict=True)), where)
            ]
        total = len(entries)
        if query.descending:
            end = max(total - offset, 0)
            chosen = entries[max(end - limit, 0) : end][::-1]
        else:
            chosen = entries[offset : offset + limit]
        rows = self._store._rows
        return [decode(rows[(kind, key)].text) for _, _, key in chosen], total

    def _page_with_staged_writes(
        self, listing: Listing, owner: str, query: PageQuery
    ) -> tuple[list[Record], int]:
        """The same page, sorted here: this transaction's writes are not in the index yet."""
        found = [r for r in self.owned(listing.kind, owner) if matches(r, query.where)]
        ordered = [
            record
            for _, record in sorted(
                enumerate(found),
                key=lambda pair: (pair[1].get(listing.order_by) or "", pair[0]),
                reverse=query.descending,
            )
        ]
        return ordered[query.offset : query.offset + query.limit], len(ordered)

    def commit(self) -> None:
        store = self._store
        for slot, keys in self._added.items():
            store._owned.setdefault(slot, []).extend(keys)
        for slot, text in self._written.items():
            row = store._rows.get(slot)
            if row is None:
                row = _Row(text, self._new_owners[slot], next(store._counter))
                store._rows[slot] = row
            else:
                row.text = text
            if slot in self._indexed:
                store._index_row(*slot, row, self._indexed[slot])
