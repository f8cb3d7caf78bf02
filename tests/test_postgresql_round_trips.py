"""What a PostgreSQL store asks its database per call, read from PostgreSQL's own statement log:
no read of the faults while none applies (each replica is told of changes by LISTEN/NOTIFY),
and a fault set through one replica still applies on every replica."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import psycopg
import pytest

from mock_server.app import MockConfig
from mock_server.store.postgresql_faults import LISTENER
from tests.support import DEMO_AUTH, JSON, InProcessMock, in_process

ACCOUNT = "/v3/accounts/demo_account_credit_balance"
# A statement the server logs: simple ("statement: ...") or extended protocol ("execute ...").
LOGGED = re.compile(r"LOG:\s+(?:statement|execute [^:]*): (.*)")


class StatementLog:
    """The statements a database's sessions run, as its server logs them."""

    def __init__(self, postgres, url: str) -> None:
        self.url = url
        self.file = postgres.folder / "server.log"
        with psycopg.connect(postgres.url(), autocommit=True) as db:
            name = url.rsplit("/", 1)[1]
            db.execute(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'")

    @contextmanager
    def between(self) -> Iterator[list[str]]:
        """The statements logged while the block runs (between two marker statements)."""
        start, end = (f"marker-{uuid.uuid4().hex}" for _ in range(2))
        logged: list[str] = []
        self._mark(start)
        yield logged
        self._mark(end)
        text = self.file.read_text(errors="replace")
        inside = text[text.index(start) : text.rindex("\n", 0, text.index(end))]
        logged += LOGGED.findall(inside.split("\n", 1)[1])  # the lines after the start marker

    def _mark(self, marker: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f"SELECT '{marker}'")


@pytest.fixture
def replicas(postgres) -> Iterator[tuple[StatementLog, InProcessMock, InProcessMock]]:
    """Two replicas (apps of their own, each listening for fault changes) on one new database
    whose statements are logged."""
    url = postgres.new_database()
    log = StatementLog(postgres, url)
    with ExitStack() as stack:
        one, other = (stack.enter_context(in_process(MockConfig(store=url))) for _ in range(2))
        yield log, one, other


def _faults_read(statements: list[str]) -> list[str]:
    """A call's read of its fault (not a listener reading which operations have one)."""
    return [s for s in statements if "FROM refund_mock_faults WHERE api =" in s]


def _listening(*mocks: InProcessMock) -> bool:
    return all(mock.app.backend.faults().listening(timeout=30) for mock in mocks)  # type: ignore[attr-defined]


def test_no_call_reads_the_faults_while_none_applies(replicas):
    log, one, other = replicas
    assert _listening(one, other)
    assert one.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 200  # state opened
    with log.between() as statements:
        for _ in range(3):
            assert one.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 200
    assert statements, "the statement log shows the calls' own transactions"
    assert _faults_read(statements) == []

    # A fault on another operation changes nothing for this one; on this one, it is read.
    fault = {"latency_ms": 0, "error_rate": 0}
    put = one.request("PUT", "/__mock__/faults/marqeta/listRefunds", json=fault, headers=JSON)
    assert put.status_code == 200, put.text
    with log.between() as statements:
        assert one.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 200
    assert _faults_read(statements) == []
    put = one.request("PUT", "/__mock__/faults/marqeta/retrieveAccount", json=fault, headers=JSON)
    assert put.status_code == 200, put.text
    with log.between() as statements:
        assert one.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 200
    assert len(_faults_read(statements)) == 1


def test_a_fault_set_or_cleared_through_one_replica_applies_on_the_other_at_once(replicas):
    _log, one, other = replicas
    assert _listening(one, other)
    for _ in range(2):  # the other replica knows "no fault" first
        assert other.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 200
    fault = {"next": [503]}
    put = one.request("PUT", "/__mock__/faults/marqeta/retrieveAccount", json=fault, headers=JSON)
    assert put.status_code == 200, put.text
    assert other.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 503
    failing = {"error_rate": 1, "error_status": 500}
    put = other.request(
        "PUT", "/__mock__/faults/marqeta/retrieveAccount", json=failing, headers=JSON
    )
    assert put.status_code == 200, put.text
    assert one.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 500
    assert one.request("DELETE", "/__mock__/faults", headers=JSON).status_code == 204
    assert other.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 200


def test_a_replica_that_lost_its_listener_reads_the_faults_until_it_listens_again(
    replicas, postgres
):
    log, one, other = replicas
    assert _listening(one, other)
    with psycopg.connect(postgres.url(), autocommit=True) as db:
        cut = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s",
            (log.url.rsplit("/", 1)[1], LISTENER),
        ).fetchall()
    assert len(cut) == 2  # one listener per replica
    # A change made while they listen again is not missed: set, then read at once, by either.
    fault = {"next": [503, 503]}
    put = one.request("PUT", "/__mock__/faults/marqeta/retrieveAccount", json=fault, headers=JSON)
    assert put.status_code == 200, put.text
    assert other.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 503
    assert one.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 503
    assert other.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 200
    with log.between() as statements:
        assert other.request("GET", ACCOUNT, auth=DEMO_AUTH).status_code == 200
    assert len(_faults_read(statements)) == 1  # its slot is still there: read
