"""What a PostgreSQL store asks its database per call, read from PostgreSQL's own statement log
and counted on the wire: no read of the faults while none applies (each replica is told of
changes by LISTEN/NOTIFY), a fault set through one replica still applies on every replica, and
a create is two round trips (its transaction's start with its first read, its writes with
COMMIT)."""

from __future__ import annotations

import re
import selectors
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import psycopg
import pytest

from mock_server.app import MockConfig
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
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


class RoundTrips:
    """A TCP relay between the mock and PostgreSQL that counts round trips: each time a
    connection's client sends after the server last answered it (or for the first time)."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = [self.listener]

    def __enter__(self) -> RoundTrips:
        self._start(self._accept)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for sock in list(self._sockets):
            sock.close()
        for thread in self._threads:
            thread.join(timeout=10)

    def url(self, database_url: str) -> str:
        return database_url.replace(f":{self.server_port}/", f":{self.port}/")

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed: the relay stops
            server = socket.create_connection(("127.0.0.1", self.server_port))
            self._sockets += [client, server]
            self._start(self._relay, client, server)

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        answered = True  # the client's first message is a round trip's start
        with selectors.DefaultSelector() as waiting:
            waiting.register(client, selectors.EVENT_READ, server)
            waiting.register(server, selectors.EVENT_READ, client)
            while not self._stop.is_set():
                for key, _ in waiting.select(timeout=0.2):
                    source, target = key.fileobj, key.data
                    try:
                        data = source.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        if source is client and answered:
                            with self._lock:
                                self.count += 1
                        answered = source is server
                        target.sendall(data)
                    except OSError:
                        return

    @contextmanager
    def during(self) -> Iterator[list[int]]:
        """The round trips made while the block runs (a list that gets the count)."""
        counted: list[int] = []
        with self._lock:
            before = self.count
        yield counted
        with self._lock:
            counted.append(self.count - before)


MARQETA_REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}
BALANCED = "/v1/marketplaces/TEST-MPdemo"
BALANCED_AUTH = (DEMO_BALANCED_SECRET, "")


def test_a_create_is_two_round_trips_to_the_database(postgres):
    """The start (BEGIN, the state's lock) goes with the first read, and the writes with
    COMMIT. A retrieve reads the account and the refund together, then commits: two. A
    Balanced create reads its marketplace and debit, then the debit's account: three."""
    with RoundTrips(postgres.port) as relay:
        url = relay.url(postgres.new_database())
        with in_process(MockConfig(store=url)) as mock:
            created = f"{ACCOUNT}/refunds"
            # Nothing else talks to the database meanwhile: no session expiry (the default),
            # no lifecycle timer, and the fault listener hears nothing.
            for _ in range(2):  # the pool's connection made first
                made = mock.request("POST", created, json=MARQETA_REFUND, auth=DEMO_AUTH)
                assert made.status_code == 201, made.text
            with relay.during() as create:
                made = mock.request("POST", created, json=MARQETA_REFUND, auth=DEMO_AUTH)
            assert made.status_code == 201, made.text
            with relay.during() as retrieve:
                got = mock.request("GET", f"{created}/{made.json()['token']}", auth=DEMO_AUTH)
            assert got.json() == made.json()
            debits = mock.request("GET", f"{BALANCED}/debits", auth=BALANCED_AUTH).json()
            debit = {"debit_uri": debits["items"][0]["uri"], "amount": 1}
            for _ in range(2):
                made = mock.request("POST", f"{BALANCED}/refunds", json=debit, auth=BALANCED_AUTH)
                assert made.status_code == 201, made.text
            with relay.during() as balanced_create:
                made = mock.request("POST", f"{BALANCED}/refunds", json=debit, auth=BALANCED_AUTH)
            assert made.status_code == 201, made.text
    assert (create, retrieve) == ([2], [2])
    assert balanced_create == [3]
