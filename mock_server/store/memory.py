"""In-memory store: one process, one lock, writes staged until the transaction commits.

Records are kept as JSON text, as the SQLite store keeps them: a read decodes a fresh copy (much
cheaper than ``copy.deepcopy``), so no caller can change committed state through what it read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from mock_server.store import KeyExistsError, Record


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], str] = {}
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
        self._written: dict[tuple[str, str], str] = {}
        self._added: dict[tuple[str, str], list[str]] = {}

    def get(self, kind: str, key: str) -> Record | None:
        text = self._written.get((kind, key)) or self._store._records.get((kind, key))
        return json.loads(text) if text is not None else None

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        if self._has(kind, key):
            raise KeyExistsError(f"{kind} {key!r} already exists")
        self._written[(kind, key)] = json.dumps(record)
        for owner in owners:
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

    def commit(self) -> None:
        self._store._records.update(self._written)
        for slot, keys in self._added.items():
            self._store._owned.setdefault(slot, []).extend(keys)
