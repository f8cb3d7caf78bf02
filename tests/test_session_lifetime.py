"""A session's lifetime while clients use it: a write acknowledged after the session was deleted
lands in the session made anew (with its start fixtures), never in the deleted one; resets at
the same time never collide; the session limit holds across workers and replicas."""

from __future__ import annotations

import fcntl
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.http_clients import tls_context
from tests.support import DEMO_AUTH, JSON, serve

ACCOUNT = "/v3/accounts/demo_account_credit_balance"
REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 0.01}
WRITERS = 8
WRITES_EACH = 30  # racing the deletes
FINAL_WRITES = 3  # each, once the last delete has answered: into stores that may be stale
DELETES = 3


@dataclass
class Churn:
    """What writers saw while a session was deleted under them."""

    # (token, when its request was sent, status), in a monotonic count of events
    answers: list[tuple[str, int, int]] = field(default_factory=list)
    deleted_at: list[int] = field(default_factory=list)  # event count when each delete answered
    events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tick(self) -> int:
        with self.lock:
            self.events += 1
            return self.events


def churn(roots: list[str], session: str) -> Churn:
    """Writers create refunds in ``session`` through every root in turn while the session is
    deleted ``DELETES`` times through the first (a delete waits for a fresh batch of answers),
    then a few more each once the last delete has answered."""
    seen = Churn()
    answered = threading.Semaphore(0)
    all_deleted = threading.Event()

    def write(writer: int) -> None:
        with httpx.Client(verify=tls_context(), auth=DEMO_AUTH, timeout=60) as client:
            for number in range(WRITES_EACH + FINAL_WRITES):
                if number == WRITES_EACH:  # the last few certainly after the last delete
                    all_deleted.wait(timeout=120)
                root = roots[(writer + number) % len(roots)]
                token = f"w{writer}_{number}"
                sent = seen.tick()
                answer = client.post(
                    f"{root}{ACCOUNT}/refunds",
                    json={**REFUND, "token": token},
                    headers={"X-Mock-Session": session},
                )
                with seen.lock:
                    seen.answers.append((token, sent, answer.status_code))
                answered.release()

    def delete() -> None:
        for _ in range(DELETES):
            for _ in range(WRITERS * WRITES_EACH // (DELETES + 1)):
                assert answered.acquire(timeout=120)
            gone = httpx.delete(f"{roots[0]}/__mock__/sessions/{session}", headers=JSON, timeout=60)
            assert gone.status_code in (204, 404), gone.text
            seen.deleted_at.append(seen.tick())
        all_deleted.set()

    with ThreadPoolExecutor(WRITERS + 1) as pool:
        done = [pool.submit(write, writer) for writer in range(WRITERS)]
        done.append(pool.submit(delete))
        for each in done:
            each.result()
    return seen


def listed(root: str, session: str) -> set[str]:
    tokens: set[str] = set()
    with httpx.Client(
        verify=tls_context(), auth=DEMO_AUTH, headers={"X-Mock-Session": session}
    ) as client:
        start = 0
        while True:
            page = client.get(
                f"{root}{ACCOUNT}/refunds", params={"count": 100, "start_index": start}
            )
            assert page.status_code == 200, page.text
            tokens |= {refund["token"] for refund in page.json()["data"]}
            if not page.json()["is_more"]:
                return tokens
            start += 100


def assert_nothing_acknowledged_was_lost(roots: list[str], session: str, seen: Churn) -> None:
    statuses = sorted({status for _, _, status in seen.answers})
    assert statuses == [201], statuses  # never a 500, never a refusal
    last_delete = seen.deleted_at[-1]
    after = {token for token, sent, _ in seen.answers if sent > last_delete}
    assert after, "no write was sent after the last delete: the test proves nothing"
    for root in roots:
        found = listed(root, session)
        assert after <= found, sorted(after - found)
        # The session made anew has its start fixtures.
        account = httpx.get(f"{root}{ACCOUNT}", auth=DEMO_AUTH, headers={"X-Mock-Session": session})
        assert account.status_code == 200, account.text


def test_writes_racing_a_session_delete_in_one_process_are_never_lost():
    with serve(MockConfig()) as mock:
        seen = churn([mock.root], "dl1")
        assert_nothing_acknowledged_was_lost([mock.root], "dl1", seen)


def test_writes_racing_a_session_delete_on_two_sqlite_workers_are_never_lost(
    start_mock, tmp_path: Path
):
    _, root = start_mock("--store", f"sqlite:{tmp_path / 'mock.db'}", "--workers", "2")
    seen = churn([root], "dl2")
    assert_nothing_acknowledged_was_lost([root], "dl2", seen)


def test_writes_racing_a_session_delete_on_two_postgresql_replicas_are_never_lost(
    start_mock, postgres
):
    database = postgres.new_database()
    roots = [start_mock("--store", database)[1] for _ in range(2)]
    seen = churn(roots, "dl3")
    assert_nothing_acknowledged_was_lost(roots, "dl3", seen)


def test_a_session_store_deleted_by_another_process_is_reopened_not_recreated_empty(tmp_path):
    """The store of a session another worker deleted refuses to begin (SessionGone) instead of
    opening its path again as an empty file without tables."""
    from mock_server.store import SessionGone
    from mock_server.store.backends import SQLiteBackend

    backend = SQLiteBackend(tmp_path / "mock.db")
    mine = backend.open_session("s", max_sessions=5)
    with mine.transaction() as tx:
        tx.add("k", "1", {"v": 1})
    mine.close()  # idle: closed, to be reopened when next used
    backend.remove_session("s")  # another worker deletes it
    with pytest.raises(SessionGone), mine.transaction():
        pass
    assert not list((tmp_path / "mock.db.sessions").glob("*.db"))


def test_a_closed_session_store_never_reopens_a_new_file_given_the_old_ones_inode(
    tmp_path, monkeypatch
):
    """Closed (idle), a store no longer holds its file's inode, and the file system may give that
    number to the file the session is made anew in: the store still finds its own file gone,
    and writes nothing into the new one (whose maker is still seeding it, perhaps)."""
    from mock_server.store import SessionGone
    from mock_server.store import sqlite as sqlite_store
    from mock_server.store.backends import SQLiteBackend

    backend = SQLiteBackend(tmp_path / "mock.db")
    mine = backend.open_session("s", max_sessions=5)
    inode = sqlite_store._identity(str(backend.session_file("s")))
    mine.close()
    backend.remove_session("s")  # another worker deletes it and makes it anew
    with backend.open_session("s", max_sessions=5).transaction() as tx:
        tx.add("k", "new", {"v": 2})
    monkeypatch.setattr(sqlite_store, "_identity", lambda path: inode)  # given to the new file
    with pytest.raises(SessionGone), mine.transaction() as tx:
        tx.add("k", "stale", {"v": 1})
    monkeypatch.undo()
    with backend.open_session("s", max_sessions=5).transaction() as tx:
        assert tx.get("k", "stale") is None
        assert tx.get("k", "new") is not None


def test_a_worker_opening_a_session_while_it_is_deleted_leaves_nothing_for_the_next_one(
    tmp_path, monkeypatch
):
    """SQLite makes a file's -wal and -shm by name: a connection opened after the deleter had
    unlinked them but not yet the file would leave new ones behind, for the session made anew at
    the path to read as its own (seen: "no such table: records" under two workers). Another
    worker opens the session just then: it waits for the deletion, and nothing is left."""
    from mock_server.store import SessionGone
    from mock_server.store.backends import SQLiteBackend

    backend = SQLiteBackend(tmp_path / "mock.db")
    with backend.open_session("s", max_sessions=5).transaction() as tx:
        tx.add("k", "1", {"v": 1})
    folder = tmp_path / "mock.db.sessions"
    waiting_or_opened = threading.Event()
    opened: list[object] = []

    real_flock = fcntl.flock

    def flock(fd: int, mode: int) -> None:
        try:
            real_flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting_or_opened.set()  # the other worker waits for the deletion
            real_flock(fd, mode)

    def other_worker_opens() -> None:
        try:
            opened.append(backend.open_session("s", max_sessions=5))
        except SessionGone as gone:
            opened.append(gone)
        waiting_or_opened.set()

    real_unlink = Path.unlink
    others = ThreadPoolExecutor(1)

    def unlink(path: Path, missing_ok: bool = False) -> None:
        real_unlink(path, missing_ok=missing_ok)
        if path.name.endswith("-shm"):  # its -wal and -shm are gone, the file is not yet
            others.submit(other_worker_opens)
            assert waiting_or_opened.wait(timeout=60)

    monkeypatch.setattr(fcntl, "flock", flock)
    monkeypatch.setattr(Path, "unlink", unlink)
    backend.remove_session("s")
    others.shutdown(wait=True)
    monkeypatch.undo()
    assert opened and isinstance(opened[0], SessionGone), opened
    assert not list(folder.iterdir())  # no -wal or -shm left behind for the next file
    with backend.open_session("s", max_sessions=5).transaction() as tx:
        assert tx.get("k", "1") is None  # made anew: empty and whole


RESETS = 16


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgresql"])
def test_resets_at_the_same_time_all_succeed_and_leave_the_fixtures_once(
    kind, request, tmp_path: Path
):
    store = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 'm.db'}"}.get(kind) or str(
        request.getfixturevalue("postgres").new_database()
    )
    with serve(MockConfig(store=store)) as mock:
        barrier = threading.Barrier(RESETS)

        def reset(_: int) -> int:
            with httpx.Client(verify=tls_context(), timeout=60) as client:
                barrier.wait()
                return client.post(f"{mock.root}/__mock__/reset", headers=JSON).status_code

        with ThreadPoolExecutor(RESETS) as pool:
            statuses = list(pool.map(reset, range(RESETS)))
        assert statuses == [200] * RESETS
        after_racing = httpx.get(f"{mock.root}/__mock__/state").json()
        assert httpx.post(f"{mock.root}/__mock__/reset", headers=JSON).status_code == 200
        after_one = httpx.get(f"{mock.root}/__mock__/state").json()
        # The start fixtures once: the same records as one reset makes.
        assert [(r["kind"], r["key"]) for r in after_racing["records"]] == [
            (r["kind"], r["key"]) for r in after_one["records"]
        ]


def race_new_sessions(roots: list[str], count: int) -> list[int]:
    barrier = threading.Barrier(count)

    def open_one(number: int) -> int:
        with httpx.Client(verify=tls_context(), auth=DEMO_AUTH, timeout=60) as client:
            barrier.wait()
            return client.get(
                f"{roots[number % len(roots)]}{ACCOUNT}",
                headers={"X-Mock-Session": f"limit{number}"},
            ).status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(open_one, range(count)))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_session_limit_holds_across_workers_and_replicas(
    kind, start_mock, request, tmp_path: Path
):
    limit = ["--max-sessions", "5"]
    if kind == "sqlite":
        roots = [start_mock("--store", f"sqlite:{tmp_path / 'm.db'}", "--workers", "2", *limit)[1]]
    else:
        database = request.getfixturevalue("postgres").new_database()
        roots = [start_mock("--store", database, *limit)[1] for _ in range(2)]
    statuses = race_new_sessions(roots, 16)
    assert statuses.count(200) == 5, statuses
    assert set(statuses) == {200, 400}, statuses
    listed_sessions = httpx.get(f"{roots[0]}/__mock__/sessions").json()["sessions"]
    assert len(listed_sessions) == 5, listed_sessions
