"""In-memory store: one process, one lock, writes staged until the transaction commits.

Records are plain dictionaries. Each is copied on the way in and on the way out of ``get``, so
no caller can change committed state through a record it wrote or read; a committed record is
never changed in place (a write stores a new one).

Indexed kinds also keep, per owner, a list of ``(order value, sequence added, key)`` kept sorted
with ``bisect``: a page is a slice of that list, and hands out the page's records themselves,
read-only (``Transaction.page``): copying them was a tenth of a Balanced list page.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mock_server.store import (
    KeyExistsError,
    Listing,
    PageQuery,
    Record,
    SessionGone,
    Stored,
    check_filters,
    matches,
)

Slot = tuple[str, str]  # (kind, key) or (kind, owner)
Place = tuple[Any, int, str]  # where a record sorts in a listing: (order value, sequence, key)


@dataclass(slots=True)
class _Row:
    record: Record
    owners: tuple[str, ...]
    sequence: int  # the order records were added in


@dataclass
class _State:
    """Everything a store holds; ``clear`` and ``replace_all`` swap in a new one whole."""

    rows: dict[str, dict[str, _Row]] = field(default_factory=dict)  # kind -> key -> row
    owned: dict[Slot, list[str]] = field(default_factory=dict)  # keys in the order added
    listed: dict[Slot, list[Place]] = field(default_factory=dict)  # indexed kinds, sorted
    owner_sets: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    sequence: Iterator[int] = field(default_factory=itertools.count)

    def owners(self, owners: Iterable[str]) -> tuple[str, ...]:
        """One tuple per distinct set of owners (all of an account's refunds share it)."""
        given = tuple(owners)
        return self.owner_sets.setdefault(given, given)


def fresh(value: Any) -> Any:
    """A copy of a JSON-able value that shares nothing mutable with it."""
    if isinstance(value, dict):
        # Most values are strings and numbers: only containers need a call of their own (a
        # list page copies a hundred records).
        return {
            key: fresh(item) if type(item) in _CONTAINERS else item for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [fresh(item) if type(item) in _CONTAINERS else item for item in value]
    return value


_CONTAINERS = frozenset({dict, list, tuple})


class MemoryStore:
    blocking = False  # a transaction is a few dictionary operations

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listings: dict[str, Listing] = {}
        self._state = _State()
        self._destroyed = False

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        with self._lock:
            self._check_kept()
            tx = _MemoryTransaction(self._state, self._listings)
            yield tx
            tx.commit()
            self._state = tx.state  # a new one if the transaction cleared the store

    def index(self, listing: Listing) -> None:
        with self._lock:
            if self._listings.get(listing.kind) == listing:
                return
            self._listings[listing.kind] = listing
            _build_listings(self._state, listing)

    def clear(self) -> None:
        with self._lock:
            self._check_kept()
            self._state = _State()

    def is_empty(self) -> bool:
        with self._lock:
            self._check_kept()
            return not any(self._state.rows.values())

    def _check_kept(self) -> None:
        if self._destroyed:
            raise SessionGone("this session was deleted")

    def export(self) -> list[Stored]:
        # Only the rows are gathered under the lock: a committed record is never changed in
        # place (a replace puts a new one in its row), so copying it out can wait.
        with self._lock:
            self._check_kept()
            rows = [
                (row.sequence, kind, key, row.owners, row.record)
                for kind, by_key in self._state.rows.items()
                for key, row in by_key.items()
            ]
        rows.sort(key=lambda row: row[0])
        return [Stored(kind, key, owners, fresh(record)) for _, kind, key, owners, record in rows]

    def replace_all(self, records: list[Stored]) -> None:
        replacement = MemoryStore()
        replacement._listings = dict(self._listings)
        for listing in replacement._listings.values():
            _build_listings(replacement._state, listing)
        with replacement.transaction() as tx:
            for stored in records:
                tx.add(stored.kind, stored.key, stored.record, stored.owners)
        with self._lock:  # swap in the finished state: readers never see half of it
            self._check_kept()
            self._state = replacement._state

    def close(self) -> None:
        """Nothing to release; present so every store closes the same way."""

    def destroy(self) -> None:
        with self._lock:
            self._state = _State()
            self._destroyed = True


def _build_listings(state: _State, listing: Listing) -> None:
    """(Re)build the sorted listings of one kind from its rows."""
    for slot in [slot for slot in state.listed if slot[0] == listing.kind]:
        del state.listed[slot]
    for key, row in state.rows.get(listing.kind, {}).items():
        place = (listing.order_value(row.record), row.sequence, key)
        for owner in row.owners:
            state.listed.setdefault((listing.kind, owner), []).append(place)
    for slot, places in state.listed.items():
        if slot[0] == listing.kind:
            places.sort()


class _MemoryTransaction:
    def __init__(self, state: _State, listings: dict[str, Listing]) -> None:
        self._state = state
        self._listings = listings
        self._reset_written()

    @property
    def state(self) -> _State:
        return self._state

    def clear(self) -> None:
        self._state = _State()  # the store swaps it in at commit; dropped on an error
        self._reset_written()

    def _reset_written(self) -> None:
        self._written: dict[Slot, Record] = {}  # in the order written
        self._added: dict[Slot, tuple[str, ...]] = {}  # new records' owners
        self._added_keys: dict[Slot, list[str]] = {}  # (kind, owner) -> new keys, in order

    def is_empty(self) -> bool:
        return not self._written and not any(self._state.rows.values())

    def get(self, kind: str, key: str) -> Record | None:
        record = self._current(kind, key)
        return fresh(record) if record is not None else None

    def _current(self, kind: str, key: str) -> Record | None:
        written = self._written.get((kind, key))
        if written is not None:
            return written
        row = self._state.rows.get(kind, {}).get(key)
        return row.record if row is not None else None

    def add(
        self,
        kind: str,
        key: str,
        record: Record,
        owners: Iterable[str] = ("",),
        taken: Exception | None = None,
    ) -> None:
        if self._current(kind, key) is not None:
            raise taken or KeyExistsError(f"{kind} {key!r} already exists")
        self._written[(kind, key)] = fresh(record)
        self._added[(kind, key)] = self._state.owners(owners)
        for owner in self._added[(kind, key)]:
            self._added_keys.setdefault((kind, owner), []).append(key)

    def read_ahead(self, *slots: tuple[str, str | None]) -> None:
        """Every record is at hand already."""

    def replace(self, kind: str, key: str, record: Record) -> None:
        if self._current(kind, key) is None:
            raise KeyError(f"{kind} {key!r} does not exist")
        self._written[(kind, key)] = fresh(record)

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        keys = self._state.owned.get((kind, owner), []) + self._added_keys.get((kind, owner), [])
        for key in keys:
            record = self.get(kind, key)
            if record is not None:
                yield record

    def page(self, kind: str, owner: str, query: PageQuery) -> tuple[list[Record], int]:
        listing = self._listings[kind]
        check_filters(listing, query.where)
        if any(slot[0] == kind for slot in self._written):
            return self._page_with_staged_writes(listing, owner, query)
        rows = self._state.rows.get(kind, {})
        places = self._state.listed.get((kind, owner), [])
        if query.where:
            places = [place for place in places if matches(rows[place[2]].record, query.where)]
        total, offset, limit = len(places), query.offset, query.limit
        if query.descending:
            end = max(total - offset, 0)
            chosen = places[max(end - limit, 0) : end][::-1]
        else:
            chosen = places[offset : offset + limit]
        # Uncopied (copying was a tenth of a Balanced list page): a committed record is never
        # changed in place, and a page's records are read-only (Transaction.page).
        return [rows[key].record for _, _, key in chosen], total

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
        state = self._state
        for slot, keys in self._added_keys.items():
            state.owned.setdefault(slot, []).extend(keys)
        for (kind, key), record in self._written.items():
            rows = state.rows.setdefault(kind, {})
            listing = self._listings.get(kind)
            owners = self._added.get((kind, key))
            if owners is not None:
                row = rows[key] = _Row(record, owners, next(state.sequence))
            else:
                row = rows[key]
                if listing is not None:
                    self._unlist(listing, key, row)
                row.record = record
            if listing is not None:
                place = (listing.order_value(record), row.sequence, key)
                for owner in row.owners:
                    places = state.listed.setdefault((kind, owner), [])
                    if not places or places[-1] < place:
                        places.append(place)  # the usual case: the newest record or change
                    else:
                        bisect.insort(places, place)

    def _unlist(self, listing: Listing, key: str, row: _Row) -> None:
        """Take a record's old place out of its listings (before it changes)."""
        place = (listing.order_value(row.record), row.sequence, key)
        for owner in row.owners:
            places = self._state.listed[(listing.kind, owner)]
            del places[bisect.bisect_left(places, place)]
