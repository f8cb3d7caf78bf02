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
from typing import Any, Protocol

Record = dict[str, Any]


class KeyExistsError(Exception):
    """A record of this kind already has this key."""


class Transaction(Protocol):
    def get(self, kind: str, key: str) -> Record | None: ...

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        """Add a new record listed under each of ``owners``; KeyExistsError if the key is taken."""

    def replace(self, kind: str, key: str, record: Record) -> None:
        """Overwrite an existing record (its owners and list positions stay)."""

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        """The owner's records of this kind, oldest first."""


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def clear(self) -> None:
        """Forget every record."""

    def is_empty(self) -> bool:
        """True when the store holds no record (a durable store may start with some)."""

    def close(self) -> None: ...


SQLITE = "sqlite:"  # the store's spelling is SQLITE + the file's path


def open_store(url: str) -> Store:
    """Open a store from its command-line spelling: ``memory`` or ``sqlite:PATH``."""
    if url == "memory":
        from mock_server.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith(SQLITE) and url.removeprefix(SQLITE):
        from mock_server.store.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix(SQLITE))
    raise ValueError(f"unknown store {url!r}: expected 'memory' or 'sqlite:PATH'")


def is_shared(url: str) -> bool:
    """Whether several processes can serve from this store (one state, one file)."""
    return url.startswith(SQLITE)
