"""In-memory store: one process, one lock, writes staged until the transaction commits.

Records are kept as JSON text, as the SQLite store keeps them: a read decodes a fresh copy (much
cheaper than ``copy.deepcopy``), so no caller can change committed state through what it read.

Indexed kinds also keep, per owner, a list of ``(order value, sequence, key)`` sorted with
``bisect``: a page is a slice of it, and only the page's records are decoded.
"""

from __future__ import annotations

import bisect
import itertools
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from mock_server.store import (
    Condition,
    KeyExistsError,
    Listing,
    PageQuery,
    Record,
    Stored,
    matches,
)

Slot = tuple[str, str]  # (kind, key) or (kind, owner)
Entry = tuple[str, int, str]  # (order value, sequence added, key)


# The attributes that hold the state (everything but the lock and the declared listings).
_STATE = (
    "_records",
    "_owned",
    "_owners",
    "_sequence",
    "_counter",
    "_sorted",
    "_entry_of",
    "_filter_values",
)


class MemoryStore:
    blocking = False  # a transaction is a few dictionary operations

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[Slot, str] = {}
        self._owned: dict[Slot, list[str]] = {}
        self._owners: dict[Slot, tuple[str, ...]] = {}
        self._sequence: dict[Slot, int] = {}
        self._counter = itertools.count()
        self._listings: dict[str, Listing] = {}
        self._sorted: dict[Slot, list[Entry]] = {}
        self._entry_of: dict[Slot, Entry] = {}
        self._filter_values: dict[Slot, dict[str, Any]] = {}

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
            for kind, key in [slot for slot in self._records if slot[0] == listing.kind]:
                self._index_record(kind, key, json.loads(self._records[(kind, key)]))

    def clear(self) -> None:
        with self._lock:
            for table in (self._records, self._owned, self._owners, self._sequence):
                table.clear()
            for table in (self._sorted, self._entry_of, self._filter_values):
                table.clear()

    def is_empty(self) -> bool:
        with self._lock:
            return not self._records

    def export(self) -> list[Stored]:
        with self._lock:
            slots = sorted(self._records, key=self._sequence.__getitem__)
            return [
                Stored(kind, key, self._owners[(kind, key)], json.loads(self._records[(kind, key)]))
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

    def _index_record(self, kind: str, key: str, record: Record) -> None:
        """File a committed record (new or changed) in its kind's sorted listings."""
        listing = self._listings.get(kind)
        if listing is None:
            return
        old = self._entry_of.get((kind, key))
        entry = (record.get(listing.order_by) or "", self._sequence[(kind, key)], key)
        for owner in self._owners[(kind, key)]:
            entries = self._sorted.setdefault((kind, owner), [])
            if old is not None:
                del entries[bisect.bisect_left(entries, old)]
            bisect.insort(entries, entry)
        self._entry_of[(kind, key)] = entry
        self._filter_values[(kind, key)] = {name: record.get(name) for name in listing.filter_by}


class _MemoryTransaction:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._written: dict[Slot, str] = {}
        self._added: dict[Slot, list[str]] = {}
        self._new_owners: dict[Slot, tuple[str, ...]] = {}

    def get(self, kind: str, key: str) -> Record | None:
        text = self._written.get((kind, key)) or self._store._records.get((kind, key))
        return json.loads(text) if text is not None else None

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        if self._has(kind, key):
            raise KeyExistsError(f"{kind} {key!r} already exists")
        self._written[(kind, key)] = json.dumps(record)
        self._new_owners[(kind, key)] = tuple(owners)
        for owner in self._new_owners[(kind, key)]:
            self._added.setdefault((kind, owner), []).append(key)

    def replace(self, kind: str, key: str, record: Record) -> None:
        if not self._has(kind, key):
            raise KeyError(f"{kind} {key!r} does not exist")
        self._written[(kind, key)] = json.dumps(record)

    def _has(self, kind: str, key: str) -> bool:
        return (kind, key) in self._written or (kind, key) in self._store._records

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        keys = self._store._owned.get((kind, owner), []) + self._added.get((kind, owner), [])
        for key in keys:
            record = self.get(kind, key)
            if record is not None:
                yield record

    def page(self, kind: str, owner: str, query: PageQuery) -> tuple[list[Record], int]:
        listing = self._store._listings[kind]
        where, offset, limit = query.where, query.offset, query.limit
        _check_filters(listing, where)
        if any(slot[0] == kind for slot in self._written):
            return self._page_with_staged_writes(listing, owner, query)
        entries = self._store._sorted.get((kind, owner), [])
        if where:
            values = self._store._filter_values
            entries = [entry for entry in entries if matches(values[(kind, entry[2])], where)]
        total = len(entries)
        if query.descending:
            end = max(total - offset, 0)
            chosen = entries[max(end - limit, 0) : end][::-1]
        else:
            chosen = entries[offset : offset + limit]
        records = self._store._records
        return [json.loads(records[(kind, key)]) for _, _, key in chosen], total

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
        store._records.update(self._written)
        for slot, keys in self._added.items():
            store._owned.setdefault(slot, []).extend(keys)
        for slot, owners in self._new_owners.items():
            store._owners[slot] = owners
            store._sequence[slot] = next(store._counter)
        for (kind, key), text in self._written.items():
            if kind in store._listings:
                store._index_record(kind, key, json.loads(text))


def _check_filters(listing: Listing, where: tuple[Condition, ...]) -> None:
    unknown = {condition.field for condition in where} - set(listing.filter_by)
    if unknown:
        raise ValueError(f"{listing.kind} listings cannot be filtered on {sorted(unknown)}")
