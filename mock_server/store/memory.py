"""In-memory store: one process, one lock, writes staged until the transaction commits."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from mock_server.store import KeyExistsError, Record


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], Record] = {}
        self._owned: dict[tuple[str, str], list[str]] = {}

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        with self._lock:
            tx = _MemoryTransaction(self)
            yield tx
            tx.commit()

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._owned.clear()

    def is_empty(self) -> bool:
        with self._lock:
            return not self._records

    def close(self) -> None:
        """Nothing to release; present so every store closes the same way."""


class _MemoryTransaction:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._written: dict[tuple[str, str], Record] = {}
        self._added: dict[tuple[str, str], list[str]] = {}

    def get(self, kind: str, key: str) -> Record | None:
        record = self._written.get((kind, key)) or self._store._records.get((kind, key))
        # Copies, so that a caller mutating what it read cannot change committed state.
        return copy.deepcopy(record) if record is not None else None

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        if self.get(kind, key) is not None:
            raise KeyExistsError(f"{kind} {key!r} already exists")
        self._written[(kind, key)] = copy.deepcopy(record)
        for owner in owners:
            self._added.setdefault((kind, owner), []).append(key)

    def replace(self, kind: str, key: str, record: Record) -> None:
        if self.get(kind, key) is None:
            raise KeyError(f"{kind} {key!r} does not exist")
        self._written[(kind, key)] = copy.deepcopy(record)

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        keys = self._store._owned.get((kind, owner), []) + self._added.get((kind, owner), [])
        for key in keys:
            record = self.get(kind, key)
            if record is not None:
                yield record

    def commit(self) -> None:
        self._store._records.update(self._written)
        for slot, keys in self._added.items():
            self._store._owned.setdefault(slot, []).extend(keys)
