"""Every store keeps the Store contract: atomic transactions, unique keys, listings in order."""

from __future__ import annotations

import multiprocessing
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from mock_server.store import (
    KeyExistsError,
    Listing,
    OneOf,
    PageQuery,
    SessionGone,
    Store,
    StoreBusy,
    StoreError,
    Within,
    postgresql,
)
from mock_server.store.backends import open_store
from mock_server.store.postgresql import SCHEMA_VERSION
from mock_server.store.sqlite import SCHEMA
from tests.postgres import binaries, postgres_server, reachable_by, wheel_binaries


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    urls = {"memory": lambda: "memory", "sqlite": lambda: f"sqlite:{tmp_path / 's.db'}"}
    urls["postgresql"] = lambda: request.getfixturevalue("postgres").new_database()
    opened = open_store(urls[request.param]())
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


class Taken(Exception):
    """What a test's add says when its key is taken (a vendor's "token already in use")."""


def test_a_key_stored_earlier_is_taken_and_the_transaction_changes_nothing(store):
    """PostgreSQL sends a transaction's writes with its COMMIT, so the database finds a taken
    key only then: the error is still the add's own, and nothing of the block lands."""
    with store.transaction() as tx:
        tx.add("k", "1", {"v": 1}, owners=("o",))
    with pytest.raises(Taken) as raised, store.transaction() as tx:
        tx.add("k", "2", {"v": 2}, owners=("o",), taken=Taken("2"))
        tx.add("k", "1", {"v": 3}, owners=("o",), taken=Taken("1"))
        tx.add("k", "3", {"v": 4}, owners=("p",), taken=Taken("3"))
    assert raised.value.args == ("1",)
    with pytest.raises(KeyExistsError), store.transaction() as tx:
        tx.add("k", "1", {"v": 3})  # no error of its own: the store's
    with pytest.raises(Taken), store.transaction() as tx:  # found by a read that sends it
        tx.add("k", "1", {"v": 3}, owners=("o",), taken=Taken("1"))
        list(tx.owned("k", "o"))
    with store.transaction() as tx:
        assert [tx.get("k", key) for key in "123"] == [{"v": 1}, None, None]
        assert list(tx.owned("k", "o")) == [{"v": 1}]
        assert list(tx.owned("k", "p")) == []


def test_records_read_ahead_are_read_as_gets_read_them(store):
    with store.transaction() as tx:
        tx.add("k", "1", {"v": 1})
    with store.transaction() as tx:
        tx.add("k", "2", {"v": 2})
        tx.read_ahead(("k", "1"), ("k", "2"), ("k", "3"), ("k", "1"))
        assert [tx.get("k", key) for key in "123"] == [{"v": 1}, {"v": 2}, None]
        tx.replace("k", "1", {"v": 9})
        tx.read_ahead(("k", "1"), ("k", "3"))
        assert (tx.get("k", "1"), tx.get("k", "3")) == ({"v": 9}, None)
        tx.add("k", "3", {"v": 3})
    with store.transaction() as tx:
        tx.read_ahead(("k", "3"), ("k", "1"))
        assert (tx.get("k", "1"), tx.get("k", "3")) == ({"v": 9}, {"v": 3})
        with pytest.raises(KeyExistsError):
            tx.add("k", "3", {"v": 4})


def test_a_transaction_writing_more_rows_than_one_statement_holds_keeps_them_all(store):
    store.index(REFUNDS)
    keys = [f"r{number:04}" for number in range(450)]  # three INSERTs' worth, and a part
    with store.transaction() as tx:
        for key in keys:
            tx.add("refund", key, {"key": key, "at": key}, owners=("o", "p"))
    with store.transaction() as tx:
        assert [record["key"] for record in tx.owned("refund", "p")] == keys
        records, total = tx.page("refund", "o", PageQuery(offset=440, limit=20))
        assert ([record["key"] for record in records], total) == (keys[440:], 450)


def test_a_clear_inside_a_transaction_drops_what_came_before_it_and_keeps_what_follows(store):
    with store.transaction() as tx:
        tx.add("k", "1", {"v": 1}, owners=("o",))
        tx.add("k", "2", {"v": 2}, owners=("o",))
    with store.transaction() as tx:
        tx.add("k", "3", {"v": 3}, owners=("o",))
        assert tx.get("k", "1") == {"v": 1}
        tx.clear()
        assert (tx.get("k", "1"), tx.get("k", "2"), tx.get("k", "3")) == (None, None, None)
        tx.add("k", "1", {"v": 10}, owners=("o",))  # free again
        assert list(tx.owned("k", "o")) == [{"v": 10}]
        tx.add("k", "2", {"v": 20}, owners=("o",))
    with store.transaction() as tx:
        assert list(tx.owned("k", "o")) == [{"v": 10}, {"v": 20}]
        assert tx.get("k", "3") is None


def test_writes_of_a_transaction_are_read_back_before_it_ends(store):
    with store.transaction() as tx:
        tx.add("k", "1", {"v": 1}, owners=("o",))
        tx.replace("k", "1", {"v": 2})
        assert tx.get("k", "1") == {"v": 2}
        assert list(tx.owned("k", "o")) == [{"v": 2}]
        tx.replace("k", "1", {"v": 3})  # sent already: replaced again
        tx.add("k", "2", {"v": 4}, owners=("o",))
        assert not tx.is_empty()
        assert list(tx.owned("k", "o")) == [{"v": 3}, {"v": 4}]
    with store.transaction() as tx:
        assert tx.get("k", "1") == {"v": 3}
        tx.replace("k", "2", {"v": 5})  # not read first in this transaction
        with pytest.raises(KeyExistsError):
            tx.add("k", "2", {"v": 6})
    with store.transaction() as tx:
        assert list(tx.owned("k", "o")) == [{"v": 3}, {"v": 5}]


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


@pytest.mark.parametrize("url", ["sqlite:", "mysql://x", "mem"])
def test_unknown_store_spellings_are_refused(url):
    with pytest.raises(ValueError, match="expected 'memory', 'sqlite:PATH' or 'postgresql://"):
        open_store(url)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://me:secret@127.0.0.1/db", "must not carry the password"),
        ("postgresql://me@127.0.0.1:1/db", "cannot open the PostgreSQL store"),
    ],
)
def test_a_postgresql_store_with_a_password_or_no_server_is_refused_in_one_line(url, says):
    with pytest.raises(StoreError, match=says) as refused:
        open_store(url)
    assert "\n" not in str(refused.value) and "secret" not in str(refused.value)


def test_a_database_with_a_newer_schema_is_refused(postgres):
    url = postgres.new_database()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE refund_mock_schema (version integer NOT NULL)")
        db.execute("INSERT INTO refund_mock_schema VALUES (99)")
    with pytest.raises(StoreError, match="schema version 99, newer than this mock's"):
        open_store(url)


REFUNDS = Listing("refund", order_by="at", filter_by=("status", "at"))


def _keys(page: tuple[list[dict], int]) -> tuple[list[str], int]:
    records, total = page
    return [record["key"] for record in records], total


def test_indexed_pages_are_ordered_filtered_counted_and_follow_changes(store):
    store.index(REFUNDS)
    with store.transaction() as tx:
        for key, at, status in [("a", "3", "NEW"), ("b", "1", "NEW"), ("c", "2", "OLD")]:
            tx.add("refund", key, {"key": key, "at": at, "status": status}, owners=("o",))
        tx.add("refund", "d", {"key": "d", "at": "2", "status": "NEW"}, owners=("o",))
        # Before commit the page already sees this transaction's writes.
        assert _keys(tx.page("refund", "o", PageQuery(0, 10))) == (["b", "c", "d", "a"], 4)
    with store.transaction() as tx:
        assert _keys(tx.page("refund", "o", PageQuery(0, 10))) == (["b", "c", "d", "a"], 4)
        # Descending reverses ties too: d was added after c.
        assert _keys(tx.page("refund", "o", PageQuery(0, 3, descending=True))) == (
            ["a", "d", "c"],
            4,
        )
        assert _keys(tx.page("refund", "o", PageQuery(3, 3, descending=True))) == (["b"], 4)
        assert _keys(tx.page("refund", "o", PageQuery(9, 3, descending=True))) == ([], 4)
        assert _keys(tx.page("refund", "o", PageQuery(1, 2))) == (["c", "d"], 4)
        new = (OneOf("status", frozenset({"NEW"})),)
        assert _keys(tx.page("refund", "o", PageQuery(0, 10, where=new))) == (["b", "d", "a"], 3)
        middle = (Within("at", low="2", high="3"),)
        assert _keys(tx.page("refund", "o", PageQuery(0, 1, True, middle))) == (["d"], 2)
        assert _keys(tx.page("refund", "elsewhere", PageQuery(0, 10))) == ([], 0)
        far = 10**30  # any offset the contracts allow, beyond SQLite's 64-bit integers
        assert _keys(tx.page("refund", "o", PageQuery(far, far, descending=True))) == ([], 4)
        assert _keys(tx.page("refund", "o", PageQuery(3, far))) == (["a"], 4)
    with store.transaction() as tx:
        tx.replace("refund", "b", {"key": "b", "at": "4", "status": "OLD"})
    with store.transaction() as tx:
        assert _keys(tx.page("refund", "o", PageQuery(0, 10))) == (["c", "d", "a", "b"], 4)
        assert _keys(tx.page("refund", "o", PageQuery(0, 10, where=new))) == (["d", "a"], 2)
        with pytest.raises(ValueError, match="cannot be filtered"):
            tx.page("refund", "o", PageQuery(0, 10, where=(OneOf("key", frozenset({"a"})),)))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.replace("refund", "a", {"key": "a", "at": "0", "status": "NEW"})
        raise RuntimeError("discarded")
    with store.transaction() as tx:
        assert _keys(tx.page("refund", "o", PageQuery(0, 1))) == (["c"], 4)
    store.clear()
    with store.transaction() as tx:
        assert tx.page("refund", "o", PageQuery(0, 10)) == ([], 0)


def test_a_page_read_earlier_still_shows_its_records_as_they_were_after_writes(store):
    # Kept answers (mock_server.kept_answers) compare a page's records with the ones an answer
    # was written from: a store must never change a record it handed out.
    store.index(REFUNDS)
    with store.transaction() as tx:
        tx.add("refund", "a", {"key": "a", "at": "1", "status": "NEW", "meta": {"m": "1"}}, ("o",))
    with store.transaction() as tx:
        (earlier,), _ = tx.page("refund", "o", PageQuery(0, 10))
    with store.transaction() as tx:
        tx.replace("refund", "a", {"key": "a", "at": "1", "status": "OLD", "meta": {"m": "2"}})
    with store.transaction() as tx:
        (now,), _ = tx.page("refund", "o", PageQuery(0, 10))
    assert earlier == {"key": "a", "at": "1", "status": "NEW", "meta": {"m": "1"}}
    assert now == {"key": "a", "at": "1", "status": "OLD", "meta": {"m": "2"}}


def test_pages_filtered_on_several_conditions_take_each_with_its_own_values(store):
    store.index(REFUNDS)
    with store.transaction() as tx:
        for key, at, status in [("a", "1", "NEW"), ("b", "2", "OLD"), ("c", "3", "GONE")]:
            tx.add("refund", key, {"key": key, "at": at, "status": status}, owners=("o",))
        two = OneOf("status", frozenset({"NEW", "GONE"}))
        late = Within("at", low="2")
        assert _keys(tx.page("refund", "o", PageQuery(0, 10, where=(two,)))) == (["a", "c"], 2)
        assert _keys(tx.page("refund", "o", PageQuery(0, 10, where=(two, late)))) == (["c"], 1)
        assert _keys(tx.page("refund", "o", PageQuery(0, 10, where=(late, two)))) == (["c"], 1)
        none = OneOf("status", frozenset())
        assert _keys(tx.page("refund", "o", PageQuery(0, 10, where=(none,)))) == ([], 0)


def test_records_stored_before_their_kind_is_indexed_are_listed(store):
    with store.transaction() as tx:
        tx.add("refund", "late", {"key": "late", "at": "9"}, owners=("o",))
        tx.add("refund", "early", {"key": "early", "at": "1"}, owners=("o",))
    store.index(REFUNDS)
    with store.transaction() as tx:
        assert _keys(tx.page("refund", "o", PageQuery(0, 10))) == (["early", "late"], 2)


def test_a_sqlite_file_from_before_sorted_listings_is_upgraded_when_opened(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA)  # the first release's tables: no sort_value column
    old.execute("INSERT INTO records VALUES (?, ?, ?)", ("refund", "x", '{"key": "x", "at": "1"}'))
    old.execute("INSERT INTO listings (kind, owner, key) VALUES ('refund', 'o', 'x')")
    old.commit()
    old.close()
    upgraded = open_store(f"sqlite:{path}")
    upgraded.index(REFUNDS)
    with upgraded.transaction() as tx:
        tx.add("refund", "y", {"key": "y", "at": "0"}, owners=("o",))
    with upgraded.transaction() as tx:
        assert _keys(tx.page("refund", "o", PageQuery(0, 10))) == (["y", "x"], 2)
    upgraded.close()


def test_the_largest_integers_the_contracts_allow_come_back_as_the_same_integers(store):
    huge = {"amount": 2**53 - 1, "fee": -(2**53 - 1)}  # the contracts' bound, both ways
    with store.transaction() as tx:
        tx.add("k", "big", huge)
    with store.transaction() as tx:
        assert tx.get("k", "big") == huge
        assert all(isinstance(value, int) for value in tx.get("k", "big").values())


def test_records_of_one_kind_need_not_look_like_the_first(store):
    # Records of one kind are not a table's rows: nothing may depend on their resembling the
    # first (the SQLite store keeps filter values in columns, the memory store in the record).
    store.index(REFUNDS)
    odd = {
        "key": "odd",
        "at": "2",
        "status": "ÉMIS" * 20_000,  # a filter value of 100 KB, stored beside the body
        "amount": 2**53 - 1,
        "note": "ünïcode ☃ " * 2000,
        "nested": [{"deep": [None, True, 1.5, -(2**53 - 1)]}],
    }
    with store.transaction() as tx:
        tx.add("refund", "first", {"key": "first", "at": "1"}, owners=("o", "p"))
        tx.add("refund", "odd", odd, owners=("o", "p"))
    with store.transaction() as tx:
        assert tx.get("refund", "odd") == odd
        accented = (OneOf("status", frozenset({"ÉMIS" * 20_000})),)
        assert _keys(tx.page("refund", "p", PageQuery(0, 10, where=accented))) == (["odd"], 1)
        # A change moves the record in every listing it is in, and keeps its owners.
        tx.replace("refund", "first", {"key": "first", "at": "3"})
    with store.transaction() as tx:
        for owner in ("o", "p"):
            assert _keys(tx.page("refund", owner, PageQuery(0, 10))) == (["odd", "first"], 2)
    exported = store.export()
    assert [(s.key, s.owners) for s in exported] == [("first", ("o", "p")), ("odd", ("o", "p"))]
    store.replace_all(exported)
    assert store.export() == exported


def test_keys_and_owners_holding_nul_and_backslashes_come_back_as_they_were(store):
    # A path parameter can carry NUL (/accounts/a%00b), which PostgreSQL text cannot hold.
    strange = "a\x00b\\0c\\"
    with store.transaction() as tx:
        assert tx.get("k", strange) is None
        tx.add("k", strange, {"v": "\x00"}, owners=(strange,))
        assert tx.get("k", strange) == {"v": "\x00"}
        assert tx.get("k", "a\x00b") is None
        assert list(tx.owned("k", strange)) == [{"v": "\x00"}]
    (stored,) = store.export()
    assert (stored.key, stored.owners) == (strange, (strange,))


# Text the contract accepts in a description: NUL, and the six characters that spell its JSON
# escape, in the records a filtered page reads its fields from.
NUL_TEXTS = ["a\x00b", "\\u0000", "\\", "\x00\\u0000\x00"]


def test_filtered_pages_read_records_whose_other_fields_hold_nul(store):
    with store.transaction() as tx:
        for number, text in enumerate(NUL_TEXTS):
            record = {"key": str(number), "at": str(number), "status": "NEW", "note": text}
            tx.add("refund", str(number), record, owners=("o",))
    store.index(REFUNDS)  # the backfill reads the records too
    new = (OneOf("status", frozenset({"NEW"})),)
    between = (Within("at", low="1", high="3"),)
    with store.transaction() as tx:
        assert _keys(tx.page("refund", "o", PageQuery(0, 10, where=new))) == (
            ["0", "1", "2", "3"],
            4,
        )
        assert _keys(tx.page("refund", "o", PageQuery(0, 10, where=between))) == (["1", "2"], 2)
        notes = [tx.get("refund", str(number))["note"] for number in range(len(NUL_TEXTS))]
    assert notes == NUL_TEXTS


def _open_and_add(url: str, name: str) -> None:
    store = open_store(url)
    with store.transaction() as tx:
        tx.add("k", name, {"by": name}, owners=("o",))


def test_replicas_starting_together_on_a_new_database_make_its_tables_once(postgres):
    url = postgres.new_database()
    context = multiprocessing.get_context("spawn")
    replicas = [context.Process(target=_open_and_add, args=(url, f"r{n}")) for n in range(4)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(timeout=60)
    assert [replica.exitcode for replica in replicas] == [0, 0, 0, 0]
    with psycopg.connect(url) as db:
        assert db.execute("SELECT version FROM refund_mock_schema").fetchall() == [
            (SCHEMA_VERSION,)
        ]
    with open_store(url).transaction() as tx:
        assert sorted(r["by"] for r in tx.owned("k", "o")) == ["r0", "r1", "r2", "r3"]


def test_a_database_of_the_previous_schema_version_is_brought_up_to_this_one(postgres):
    """Version 1 had no sessions' last use (--session-expire): a replica of this version adds
    it at start-up, and says so in the schema's version."""
    url = postgres.new_database()
    context = multiprocessing.get_context("spawn")  # a replica that never saw the database
    made = context.Process(target=_open_and_add, args=(url, "before"))
    made.start()
    made.join(timeout=60)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("ALTER TABLE refund_mock_sessions DROP COLUMN used_at")
        db.execute("UPDATE refund_mock_schema SET version = 1")
    upgraded = context.Process(target=_open_and_add, args=(url, "after"))
    upgraded.start()
    upgraded.join(timeout=60)
    assert (made.exitcode, upgraded.exitcode) == (0, 0)
    with psycopg.connect(url) as db:
        assert db.execute("SELECT version FROM refund_mock_schema").fetchall() == [
            (SCHEMA_VERSION,)
        ]
        used = db.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = 'refund_mock_sessions'::regclass"
            " AND attname = 'used_at' AND NOT attisdropped"
        ).fetchall()
        assert used == [(1,)]


def test_a_postgresql_store_can_come_from_a_service_file(postgres, tmp_path, monkeypatch):
    # Everything, the password included, from a file libpq reads: nothing on the command line.
    parts = conninfo_to_dict(postgres.new_database())
    services = tmp_path / "pg_service.conf"
    services.write_text(
        "[team_mock]\n"
        + "".join(f"{key}={parts[key]}\n" for key in ("host", "port", "user", "dbname"))
    )
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    store = open_store("postgresql://?service=team_mock")
    with store.transaction() as tx:
        tx.add("k", "1", {"v": 1})
    with psycopg.connect(postgres.url(parts["dbname"])) as db:
        assert db.execute("SELECT count(*) FROM refund_mock_records").fetchone() == (1,)


def test_postgresql_states_in_one_database_touch_only_their_own_rows(postgres):
    # Every state shares the tables: each statement must keep to its state's rows.
    url = postgres.new_database()
    default, session = postgresql.PostgresStore(url), postgresql.PostgresStore(url, "s", 10)
    odd = "a\\b\x00c"  # stored escaped: PostgreSQL text holds no NUL
    for store, at in ((default, "1"), (session, "2")):
        with store.transaction() as tx:
            tx.add("refund", odd, {"key": odd, "at": at, "status": "NEW"}, owners=(odd,))
    for store in (default, session):
        store.index(REFUNDS)  # the backfill, per state
    with session.transaction() as tx:
        assert tx.page("refund", odd, PageQuery(0, 10)) == (
            [{"key": odd, "at": "2", "status": "NEW"}],
            1,
        )
        assert [r["at"] for r in tx.owned("refund", odd)] == ["2"]
        tx.replace("refund", odd, {"key": odd, "at": "3", "status": "OLD"})
    assert [(s.key, s.owners) for s in default.export()] == [(odd, (odd,))]
    assert default.export()[0].record["at"] == "1"
    session.clear()
    assert session.is_empty() and not default.is_empty()
    with default.transaction() as tx:
        assert tx.page("refund", odd, PageQuery(0, 10))[1] == 1


def test_a_postgresql_restart_while_the_store_is_idle_costs_no_transaction():
    """A pooled connection the restart closed is found closed before anything is sent on it
    (a transaction's first statements go out with its first read, too late to try another)."""
    with postgres_server() as server:
        url = server.new_database()
        postgresql.hold_pool(url)
        try:
            store = postgresql.PostgresStore(url)
            with store.transaction() as tx:
                tx.add("k", "1", {"v": 1})
            server.stop()
            server.start()
            with store.transaction() as tx:
                assert tx.get("k", "1") == {"v": 1}
        finally:
            postgresql.release_pool(url)


def test_a_session_store_of_a_deleted_session_neither_reads_nor_writes_the_new_one(postgres):
    """Which life of a session a store opened is checked with its transaction's first result,
    and before COMMIT when the transaction only writes: nothing lands in the session made anew."""
    url = postgres.new_database()
    stale = postgresql.PostgresStore(url, "s", 10)
    postgresql.remove_session(url, "s")
    with postgresql.PostgresStore(url, "s", 10).transaction() as tx:
        tx.add("k", "new", {"v": 2})
    with pytest.raises(SessionGone), stale.transaction() as tx:
        tx.add("k", "written", {"v": 1})
    with pytest.raises(SessionGone), stale.transaction() as tx:
        tx.get("k", "new")
        tx.add("k", "read-then-written", {"v": 1})
    with pytest.raises(SessionGone), stale.transaction() as tx:
        with pytest.raises(SessionGone):
            tx.get("k", "new")
        tx.add("k", "written-after-the-refusal-was-caught", {"v": 1})  # never committed
    assert [stored.key for stored in postgresql.PostgresStore(url, "s", 10).export()] == ["new"]


def test_a_state_held_by_another_replica_is_busy_after_the_lock_timeout(postgres, monkeypatch):
    monkeypatch.setattr(postgresql, "REQUEST_WAIT_S", 0.2)
    url = postgres.new_database()
    one, other = open_store(url), open_store(url)  # the default state, as two replicas hold it
    with one.transaction() as holding:
        holding.get("k", "1")  # the lock is taken with the transaction's first statement
        with pytest.raises(StoreBusy, match="busy"), other.transaction() as waiting:
            waiting.get("k", "1")
    with other.transaction() as tx:  # and free again once the first is done
        assert tx.is_empty()


def test_a_state_waits_for_its_turn_without_a_pooled_connection(postgres, monkeypatch):
    monkeypatch.setattr(postgresql, "REQUEST_WAIT_S", 0.2)
    url = postgres.new_database()
    store = open_store(url)
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with store.transaction():
            holding.set()
            done.wait(timeout=60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        holding.wait(timeout=60)
        asked = postgresql.pool_for(url).get_stats().get("requests_num", 0)
        with pytest.raises(StoreBusy, match="busy"), store.transaction():
            pass
        # It waited for its turn, not on the database's lock with a connection of the pool.
        assert postgresql.pool_for(url).get_stats().get("requests_num", 0) == asked
    finally:
        done.set()
        holder.join(timeout=60)


def test_the_tests_postgresql_is_the_wheels_with_no_system_package_needed():
    # `make` installs pgserver; nothing is asked of apt (a contributor may have no root).
    assert binaries() == wheel_binaries()
    assert (binaries() / "postgres").exists()


def test_binaries_an_unprivileged_user_cannot_reach_are_copied_where_it_can():
    # Root runs the tests; PostgreSQL runs as another user, who cannot enter /root's venv.
    # (pytest's tmp_path is closed to other users: a folder of /tmp's own.)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o755)
        _check_copied(Path(folder))


def _check_copied(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "install" / "bin").mkdir(parents=True)
    (closed / "install" / "bin" / "postgres").write_text("#!/bin/sh\n")
    (closed / "install" / "bin" / "postgres").chmod(0o755)
    closed.chmod(0o700)
    into = tmp_path / "open"
    into.mkdir()
    found = reachable_by("nobody", closed / "install" / "bin", into)
    assert found == into / "install" / "bin"
    assert (found / "postgres").exists()
    closed.chmod(0o755)
    assert reachable_by("nobody", closed / "install" / "bin", into) == closed / "install" / "bin"
