"""Both stores keep the Store contract: atomic transactions, unique keys, listings in order."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server.store import KeyExistsError, Store, open_store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = open_store("memory" if request.param == "memory" else f"sqlite:{tmp_path / 's.db'}")
    yield opened
    opened.close()


def test_a_transaction_commits_together_or_not_at_all(store):
    with store.transaction() as tx:
        tx.add("k", "1", {"v": 1}, owners=("o",))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.replace("k", "1", {"v": 2})
        tx.add("k", "2", {"v": 3}, owners=("o",))
        raise RuntimeError("rule broken half-way")
    with store.transaction() as tx:
        assert tx.get("k", "1") == {"v": 1}
        assert tx.get("k", "2") is None
        assert list(tx.owned("k", "o")) == [{"v": 1}]


def test_duplicate_keys_are_refused_and_reads_are_copies(store):
    with store.transaction() as tx:
        tx.add("k", "1", {"v": [1]})
        with pytest.raises(KeyExistsError):
            tx.add("k", "1", {"v": [2]})
    with store.transaction() as tx:
        tx.get("k", "1")["v"].append(99)  # mutating a read copy must not change the store
        assert tx.get("k", "1") == {"v": [1]}
        with pytest.raises(KeyError):
            tx.replace("k", "nope", {"v": 0})


def test_listings_keep_insertion_order_per_owner_and_see_the_open_transaction(store):
    with store.transaction() as tx:
        for key in ("b", "a", "c"):
            tx.add("k", key, {"key": key}, owners=("", f"owner-{key in 'ab'}"))
        assert [r["key"] for r in tx.owned("k")] == ["b", "a", "c"]
    with store.transaction() as tx:
        tx.replace("k", "a", {"key": "a", "changed": True})
        assert [r["key"] for r in tx.owned("k", "owner-True")] == ["b", "a"]
        assert list(tx.owned("k", "owner-False")) == [{"key": "c"}]
        assert next(r for r in tx.owned("k") if r["key"] == "a")["changed"] is True


def test_clear_and_is_empty(store):
    assert store.is_empty()
    with store.transaction() as tx:
        tx.add("k", "1", {})
    assert not store.is_empty()
    store.clear()
    assert store.is_empty()
    with store.transaction() as tx:
        assert list(tx.owned("k")) == []


def _add_from_another_process(path: str, key: str) -> None:
    other = open_store(f"sqlite:{path}")
    with other.transaction() as tx:
        tx.add("k", key, {"by": "child"}, owners=("o",))
    other.close()


def test_sqlite_state_outlives_the_process_and_is_shared_between_processes(tmp_path):
    path = str(tmp_path / "shared.db")
    first = open_store(f"sqlite:{path}")
    with first.transaction() as tx:
        tx.add("k", "parent", {"by": "parent"}, owners=("o",))
    child = multiprocessing.get_context("spawn").Process(
        target=_add_from_another_process, args=(path, "child")
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    with first.transaction() as tx:
        assert [r["by"] for r in tx.owned("k", "o")] == ["parent", "child"]
    first.close()

    reopened = open_store(f"sqlite:{path}")
    with reopened.transaction() as tx:
        assert tx.get("k", "child") == {"by": "child"}
    reopened.close()


@pytest.mark.parametrize("url", ["sqlite:", "postgres://x", "mem"])
def test_unknown_store_spellings_are_refused(url):
    with pytest.raises(ValueError, match="expected 'memory' or 'sqlite:PATH'"):
        open_store(url)
