"""Sessions a team can share a mock with: names that cannot collide, limits that hold, deletion
and reset that clean up, on every store."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.sessions import SessionFiles, SessionHooks, SessionLimits, Sessions
from mock_server.store.backends import SQLiteBackend
from tests.support import DEMO_AUTH, JSON, SettableClock, serve

ACCOUNT = "/v3/accounts/demo_account_credit_balance"
REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}
# Names whose files, spelled naively beside the database, are SQLite's own files or each other's.
TRICKY_NAMES = ["v", "v-wal", "v-shm", "v-journal", "c.db", "c.db-wal", "V", "col", "col-wal"]


def store_of(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "postgresql":
        return str(request.getfixturevalue("postgres").new_database())
    return "memory" if kind == "memory" else f"sqlite:{tmp_path / 'mock.db'}"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_of(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store several processes serve one state from."""
    return store_of(request.param, request, tmp_path)


def as_session(name: str) -> dict[str, str]:
    return {"X-Mock-Session": name}


def refunds_of(root: str, name: str) -> list[str]:
    page = httpx.get(f"{root}{ACCOUNT}/refunds?count=100", auth=DEMO_AUTH, headers=as_session(name))
    assert page.status_code == 200, page.text
    return sorted(refund["token"] for refund in page.json()["data"])


def make_refunds(root: str, name: str, count: int) -> list[str]:
    made = []
    for number in range(count):
        token = f"{name.replace('.', '_')}_{number}"
        created = httpx.post(
            f"{root}{ACCOUNT}/refunds",
            json={**REFUND, "token": token},
            auth=DEMO_AUTH,
            headers=as_session(name),
        )
        assert created.status_code == 201, created.text
        made.append(token)
    return sorted(made)


def test_no_session_name_collides_with_another_or_with_sqlite_files_across_a_restart(
    shared_store,
):
    store = shared_store
    made = {}
    with serve(MockConfig(store=store)) as mock:
        for count, name in enumerate(TRICKY_NAMES, start=1):
            made[name] = make_refunds(mock.root, name, count)
        for name in TRICKY_NAMES:
            assert refunds_of(mock.root, name) == made[name]
    with serve(MockConfig(store=store)) as restarted:
        for name in TRICKY_NAMES:
            assert refunds_of(restarted.root, name) == made[name], name
        listed = httpx.get(f"{restarted.root}/__mock__/sessions").json()["sessions"]
        assert listed == sorted(TRICKY_NAMES)  # the names as users gave them, from the store


def test_the_session_limit_is_a_clear_400_that_fails_no_other_session(store):
    config = MockConfig(store=store, session_limits=SessionLimits(max_sessions=3, max_open=2))
    with serve(config) as mock:
        for name in ("a", "b", "c"):
            make_refunds(mock.root, name, 1)
        refused = httpx.get(f"{mock.root}{ACCOUNT}", auth=DEMO_AUTH, headers=as_session("d"))
        assert refused.status_code == 400
        assert "3 sessions" in refused.json()["error_message"]
        assert "DELETE /__mock__/sessions" in refused.json()["error_message"]
        # The others, the default state included, go on; closed stores open again on use.
        assert [refunds_of(mock.root, name) for name in ("a", "b", "c")] == [
            ["a_0"],
            ["b_0"],
            ["c_0"],
        ]
        assert httpx.get(f"{mock.root}{ACCOUNT}", auth=DEMO_AUTH).status_code == 200
        assert httpx.delete(f"{mock.root}/__mock__/sessions/a", headers=JSON).status_code == 204
        assert refunds_of(mock.root, "d") == []


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_open_sessions_are_capped_so_file_descriptors_stay_bounded(tmp_path):
    limits = SessionLimits(max_sessions=500, max_open=4)
    with serve(MockConfig(store=f"sqlite:{tmp_path / 'mock.db'}", session_limits=limits)) as mock:
        httpx.get(f"{mock.root}/__mock__/state")  # the default store, warmed up
        before = open_files()
        for number in range(60):
            state = httpx.get(f"{mock.root}/__mock__/state", headers=as_session(f"s{number}"))
            assert state.status_code == 200
        # Four open sessions hold at most 3 descriptors each; 60 held 180 or more.
        assert open_files() - before <= 4 * 3 + 4
        assert httpx.get(f"{mock.root}{ACCOUNT}", auth=DEMO_AUTH).status_code == 200


def test_a_reset_of_the_mock_deletes_every_session(store):
    with serve(MockConfig(store=store)) as mock:
        for name in ("x", "y"):
            make_refunds(mock.root, name, 1)
        # A session's own reset is its own: the others stay.
        httpx.post(f"{mock.root}/__mock__/reset", headers={**JSON, **as_session("x")})
        assert httpx.get(f"{mock.root}/__mock__/sessions").json()["sessions"] == ["x", "y"]
        assert httpx.post(f"{mock.root}/__mock__/reset", headers=JSON).status_code == 200
        assert httpx.get(f"{mock.root}/__mock__/sessions").json()["sessions"] == []
        assert refunds_of(mock.root, "y") == []  # named again: afresh
        if store.startswith("sqlite:"):
            folder = SQLiteBackend(Path(store.removeprefix("sqlite:"))).sessions_folder()
            assert {path.name.split("-")[0] for path in folder.iterdir()} == {"y"}


def test_a_session_deleted_by_one_worker_is_gone_for_the_others(shared_store):
    store = shared_store
    with serve(MockConfig(store=store)) as one, serve(MockConfig(store=store)) as other:
        made = make_refunds(one.root, "team", 2)
        assert refunds_of(other.root, "team") == made  # one state, shared through the store
        assert httpx.delete(f"{other.root}/__mock__/sessions/team", headers=JSON).status_code == 204
        assert refunds_of(one.root, "team") == []
        balance = httpx.get(f"{one.root}{ACCOUNT}", auth=DEMO_AUTH, headers=as_session("team"))
        assert Decimal(str(balance.json()["current_balance"])) == Decimal("-1250")


class Recorded:
    """Session hooks that note what was done to which session."""

    def __init__(self) -> None:
        self.released: list[str] = []
        self.discarded: list[str] = []

    def hooks(self) -> SessionHooks[str]:
        return SessionHooks(
            open=lambda name: name, release=self.released.append, discard=self.discarded.append
        )


def test_tidying_closes_the_stores_of_idle_sessions_only():
    done = Recorded()
    sessions = Sessions("default", done.hooks(), SessionLimits(idle_seconds=60))
    sessions.state("early", now=0)
    sessions.state("busy", now=0)
    sessions.state("busy", now=50)
    sessions.tidy(now=61)
    assert done.released == ["early"]
    sessions.tidy(now=62)
    assert done.released == ["early"]  # a closed store is not closed twice
    assert sessions.names() == ["busy", "early"]  # closed, not gone: it opens again on use
    sessions.tidy(now=111)
    assert done.released == ["early", "busy"]


def test_tidying_forgets_sessions_another_worker_deleted():
    done = Recorded()
    on_disk = {"kept", "deleted_elsewhere"}
    files = SessionFiles(
        names=lambda: sorted(on_disk),
        exists=on_disk.__contains__,
        remove=on_disk.discard,
        stamp=lambda name, at: None,
        unused=lambda before, now: [],
    )
    sessions = Sessions("default", done.hooks(), SessionLimits(idle_seconds=60), files)
    sessions.state("kept", now=0)
    sessions.state("deleted_elsewhere", now=0)
    on_disk.discard("deleted_elsewhere")
    sessions.tidy(now=1)
    assert done.released == ["deleted_elsewhere"]
    assert sessions.names() == ["kept"]
    assert done.discarded == []  # its files are already gone; nothing more to remove


DAY = 86400.0


def test_sessions_unused_for_their_expiry_are_deleted_and_used_ones_kept():
    """In one process (the memory store): its own uses decide."""
    done = Recorded()
    sessions = Sessions("default", done.hooks(), SessionLimits(expire_seconds=DAY))
    sessions.state("left_by_a_killed_job", now=0)
    sessions.state("in_use", now=0)
    sessions.state("in_use", now=DAY - 1)
    assert sessions.expire(now=DAY + 1) == ["left_by_a_killed_job"]
    assert done.discarded == ["left_by_a_killed_job"] and sessions.names() == ["in_use"]
    never = Sessions("default", done.hooks(), SessionLimits(expire_seconds=None))
    never.state("kept", now=0)
    assert never.expire(now=100 * DAY) == [] and never.names() == ["kept"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_session_another_replica_uses_is_not_expired_and_an_unused_one_is_by_either(
    kind, request, tmp_path
):
    """Two processes on one store, each with an injected clock: a session's last use by either
    counts, and the expiry deletes it once, through whichever process tidies first."""
    store = (
        f"sqlite:{tmp_path / 'team.db'}"
        if kind == "sqlite"
        else str(request.getfixturevalue("postgres").new_database())
    )
    start = datetime(2026, 12, 1, tzinfo=UTC)
    clocks = [SettableClock(), SettableClock()]
    for clock in clocks:  # the background tidies too see the tests' time, never the system's
        clock.pinned = start
    config = [
        MockConfig(store=store, clock=clock, session_limits=SessionLimits(expire_seconds=DAY))
        for clock in clocks
    ]
    with serve(config[0]) as one, serve(config[1]) as other:

        def use(mock: Any, clock: SettableClock, name: str, hours: float) -> None:
            clock.pinned = start + timedelta(hours=hours)
            account = httpx.get(f"{mock.root}{ACCOUNT}", auth=DEMO_AUTH, headers=as_session(name))
            assert account.status_code == 200

        def tidy(mock: Any, hours: float) -> None:
            mock.app.sessions.tidy((start + timedelta(hours=hours)).timestamp())

        use(one, clocks[0], "ci-job-killed", hours=0)
        use(one, clocks[0], "shared", hours=0)
        made = make_refunds(one.root, "shared", 1)
        tidy(one, hours=0)  # its uses written down, as its background tidy does within seconds
        use(other, clocks[1], "shared", hours=20)  # only the other process uses it since
        tidy(other, hours=20)  # which writes that use down, as its background tidy does
        tidy(one, hours=30)
        assert httpx.get(f"{one.root}/__mock__/sessions").json() == {
            "sessions": ["shared"],
            "expire_after_s": DAY,
        }
        assert refunds_of(other.root, "shared") == made  # kept whole
        tidy(other, hours=45)
        assert httpx.get(f"{other.root}/__mock__/sessions").json()["sessions"] == []
        tidy(one, hours=45)  # which finds it gone, as its background tidy would
        assert httpx.get(f"{one.root}/__mock__/sessions").json()["sessions"] == []


def test_the_session_expiry_defaults_to_a_day_on_shared_stores_and_never_on_memory():
    from mock_server.command import config_from, parse_args

    def expiry(*args: str) -> float | None:
        return config_from(parse_args([*args])).session_limits.expire_seconds

    assert expiry() is None
    assert expiry("--store", "sqlite:/tmp/x.db") == DAY
    assert expiry("--store", "sqlite:/tmp/x.db", "--session-expire", "0") is None
    assert expiry("--session-expire", "3600") == 3600
