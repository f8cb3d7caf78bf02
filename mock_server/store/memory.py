"""In-memory store: one process, one lock, writes staged until the transaction commits.

Each record is kept packed (``store.packed``): one ``bytes`` holding what its listings sort and
filter on, then its JSON compressed against its kind's dictionary. A read decodes a fresh copy,
so no caller can change committed state through what it read; 10^5 refunds with their journal
entries cost tens of megabytes.

Indexed kinds also keep, per owner, their keys sorted by ``(order value, sequence added)`` with
``bisect``: a page is a slice of that list, and only the page's records are unpacked.
"""

from __future__ import annotations

import bisect
import itertools
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from mock_server.json_codec import decode, encode
from mock_server.store import (
    KeyExistsError,
    Listing,
    PageQuery,
    Record,
    Stored,
    check_filters,
    matches,
)
from mock_server.store.packed import KindCodec, facts

Slot = tuple[str, str]  # (kind, key) or (kind, owner)
SortKey = tuple[Any, int]  # (order value, sequence added)

# The attributes that hold the state (everything but the lock and the declared listings).
_STATE = ("_rows", "_codecs", "_owned", "_sorted", "_owner_sets", "_owner_ids", "_counter")
_SEQUENCE, _OWNERS, _ORDER, _FILTERS = 0, 1, 2, 3  # where each fact sits in a packed record


class MemoryStore:
    blocking = False  # a transaction is a few dictionary operations

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listings: dict[str, Listing] = {}
        self._rows: dict[str, dict[str, bytes]] = {}  # kind -> key -> packed record
        self._codecs: dict[str, KindCodec] = {}
        self._owned: dict[Slot, list[str]] = {}  # keys in the order added
        self._sorted: dict[Slot, list[str]] = {}  # keys of indexed kinds, by SortKey
        self._owner_sets: list[tuple[str, ...]] = []  # a packed record names its owners by index
        self._owner_ids: dict[tuple[str, ...], int] = {}
        self._counter = itertools.count()

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
            rows = self._rows.get(listing.kind, {})
            for key, packed in rows.items():  # repacked with the facts this listing needs
                body = self._codecs[listing.kind].body(packed)
                sequence, owners = facts(packed)[:_ORDER]
                listed = _listed_facts(listing, decode(body))
                rows[key] = self._codecs[listing.kind].pack([sequence, owners, *listed], body)
                for owner in self._owner_sets[owners]:
                    self._sorted.setdefault((listing.kind, owner), []).append(key)
            by_sort_key = self._sort_key(listing.kind)
            for slot, keys in self._sorted.items():
                if slot[0] == listing.kind:
                    keys.sort(key=by_sort_key)

    def clear(self) -> None:
        with self._lock:
            fresh = MemoryStore()
            for name in _STATE:
                setattr(self, name, getattr(fresh, name))

    def is_empty(self) -> bool:
        with self._lock:
            return not any(self._rows.values())

    def export(self) -> list[Stored]:
        # Only the references are taken under the lock (packed records are immutable bytes):
        # decoding 10^4 records there would stall every request behind it.
        with self._lock:
            held = [
                (kind, key, packed)
                for kind, rows in self._rows.items()
                for key, packed in rows.items()
            ]
            owner_sets = list(self._owner_sets)
            codecs = dict(self._codecs)
        ordered = sorted(
            ((facts(packed), kind, key, packed) for kind, key, packed in held),
            key=lambda row: row[0][_SEQUENCE],
        )
        return [
            Stored(kind, key, owner_sets[known[_OWNERS]], decode(codecs[kind].body(packed)))
            for known, kind, key, packed in ordered
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

    def destroy(self) -> None:
        self.clear()

    def _record(self, kind: str, packed: bytes) -> Record:
        return decode(self._codecs[kind].body(packed))

    def _owners_id(self, owners: Iterable[str]) -> int:
        """The index of this set of owners (all of an account's refunds share one)."""
        interned = tuple(sys.intern(owner) for owner in owners)
        known = self._owner_ids.get(interned)
        if known is None:
            known = self._owner_ids[interned] = len(self._owner_sets)
            self._owner_sets.append(interned)
        return known

    def _sort_key(self, kind: str) -> Callable[[str], SortKey]:
        rows = self._rows.setdefault(kind, {})

        def sort_key(key: str) -> SortKey:
            known = facts(rows[key])
            return known[_ORDER], known[_SEQUENCE]

        return sort_key

    def _commit_one(self, kind: str, key: str, written: _Written, owners: int | None) -> None:
        """File one written record: ``owners`` for an added record; None for a replaced one,
        which keeps its sequence, owners and key object."""
        body, listed = written
        rows = self._rows.setdefault(kind, {})
        codec = self._codecs.get(kind)
        if codec is None:
            codec = self._codecs[kind] = KindCodec(body)
        indexed = kind in self._listings
        relist = indexed
        if owners is None:
            old = facts(rows[key])
            sequence, owners = old[_SEQUENCE], old[_OWNERS]
            relist = indexed and old[_ORDER] != listed[0]
            if relist:
                key = self._unlist(kind, key, (old[_ORDER], sequence), owners)
        else:
            sequence = next(self._counter)
        rows[key] = codec.pack([sequence, owners, *listed], body)
        if relist:
            self._list(kind, key, (listed[0], sequence), owners)

    def _list(self, kind: str, key: str, place: SortKey, owners: int) -> None:
        by_sort_key = self._sort_key(kind)
        for owner in self._owner_sets[owners]:
            entries = self._sorted.setdefault((kind, owner), [])
            if not entries or by_sort_key(entries[-1]) < place:
                entries.append(key)  # the usual case: the newest record, or the latest change
            else:
                entries.insert(bisect.bisect_right(entries, place, key=by_sort_key), key)

    def _unlist(self, kind: str, key: str, place: SortKey, owners: int) -> str:
        """Take a record out of its sorted listings (before it changes); returns the key object
        the listings held, so the store keeps one copy of each key."""
        by_sort_key = self._sort_key(kind)
        for owner in self._owner_sets[owners]:
            entries = self._sorted[(kind, owner)]
            key = entries.pop(bisect.bisect_left(entries, place, key=by_sort_key))
        return key


_Written = tuple[bytes, list[Any]]  # a staged record: its JSON, and its listed facts if indexed


def _listed_facts(listing: Listing, record: Record) -> list[Any]:
    """What a listing sorts and filters on: the order value, then each filter field's value."""
    return [listing.order_value(record), *(record.get(name) for name in listing.filter_by)]


class _MemoryTransaction:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._written: dict[Slot, _Written] = {}  # in the order written
        self._added: dict[Slot, list[str]] = {}
        self._new_owners: dict[Slot, int] = {}

    def get(self, kind: str, key: str) -> Record | None:
        written = self._written.get((kind, key))
        if written is not None:
            return decode(written[0])
        packed = self._store._rows.get(kind, {}).get(key)
        return self._store._record(kind, packed) if packed is not None else None

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        if self._has(kind, key):
            raise KeyExistsError(f"{kind} {key!r} already exists")
        self._write(kind, key, record)
        owners_id = self._new_owners[(kind, key)] = self._store._owners_id(owners)
        for owner in self._store._owner_sets[owners_id]:
            self._added.setdefault((kind, owner), []).append(key)

    def replace(self, kind: str, key: str, record: Record) -> None:
        if not self._has(kind, key):
            raise KeyError(f"{kind} {key!r} does not exist")
        self._write(kind, key, record)

    def _write(self, kind: str, key: str, record: Record) -> None:
        # The listed facts are taken now, so the commit need not decode the record again.
        listing = self._store._listings.get(kind)
        listed = _listed_facts(listing, record) if listing is not None else []
        self._written[(kind, key)] = (encode(record), listed)

    def _has(self, kind: str, key: str) -> bool:
        return (kind, key) in self._written or key in self._store._rows.get(kind, {})

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        keys = self._store._owned.get((kind, owner), []) + self._added.get((kind, owner), [])
        for key in keys:
            record = self.get(kind, key)
            if record is not None:
                yield record

    def page(self, kind: str, owner: str, query: PageQuery) -> tuple[list[Record], int]:
        listing = self._store._listings[kind]
        check_filters(listing, query.where)
        if any(slot[0] == kind for slot in self._written):
            return self._page_with_staged_writes(listing, owner, query)
        rows = self._store._rows.get(kind, {})
        keys = self._store._sorted.get((kind, owner), [])
        if query.where:
            names = listing.filter_by
            keys = [
                key
                for key in keys
                if matches(dict(zip(names, facts(rows[key])[_FILTERS:], strict=True)), query.where)
            ]
        total, offset, limit = len(keys), query.offset, query.limit
        if query.descending:
            end = max(total - offset, 0)
            chosen = keys[max(end - limit, 0) : end][::-1]
        else:
            chosen = keys[offset : offset + limit]
        return [self._store._record(kind, rows[key]) for key in chosen], total

    def _page_with_staged_writes(
        self, listing: Listing, owner: str, query: PageQuery
    ) -> tuple[list[Record], int]:
        """The same page, sorted here: this transaction's writes are not in the index yet."""
        found = [r for r in self.owned(listing.kind, owner) if matches(r, query.where)]
        ordered = [
            record
            for _, record in sorted(
                enumerate(found),
                key=lambda pair: (listing.order_value(pair[1]), pair[0]),
                reverse=query.descending,
            )
        ]
        return ordered[query.offset : query.offset + query.limit], len(ordered)

    def commit(self) -> None:
        store = self._store
        for slot, keys in self._added.items():
            store._owned.setdefault(slot, []).extend(keys)
        for (kind, key), written in self._written.items():
            store._commit_one(kind, key, written, self._new_owners.get((kind, key)))
