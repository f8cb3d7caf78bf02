from __future__ import annotations

import contextlib
import functools
import itertools
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from mock_server.sessions import SESSION_HEADER
from tests.defects import DEFECTS, run_with_defect
from tests.postgres import PostgresServer, postgres_server
from tests.support import (
    DEMO_AUTH,
    JSON,
    LOGS,
    ROOT,
    ConformanceRun,
    ContractClient,
    InProcessMock,
    RecordedSleeps,
    SettableClock,
    free_port,
    in_process,
    log_of,
)

MARQETA = "marqeta-credit.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        help="run only the long scenarios marked soak (make soak); without it they are left out",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``make test`` leaves the long scenarios to ``make soak``, which runs nothing else; the
    longest group runs first."""
    soak = config.getoption("--soak")
    chosen: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        (chosen if (item.get_closest_marker("soak") is not None) == soak else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
    # The longest group that one worker must run alone goes first (the installed kit's: a
    # wheel, a virtualenv, the console scripts), so the other worker takes the rest meanwhile
    # instead of waiting for it at the end.
    chosen.sort(key=lambda item: 0 if _group(item) == LONGEST_GROUP else 1)
    items[:] = chosen


LONGEST_GROUP = "installed-kit"


def _group(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("xdist_group")
    if marker is None:
        return None
    name = marker.args[0] if marker.args else marker.kwargs.get("name")
    return str(name) if name is not None else None


@pytest.fixture(scope="session")
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test process's own, removed at its end."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session", params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every test of the mock runs on each store."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path_factory.mktemp('store') / 'mock.db'}"
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.new_database()
    return request.param


@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ConformanceRun]:
    """The conformance run against a mock with the named defect planted (tests/defects.py),
    made once per test process: several tests read one run (``defects.reads_run_of``)."""

    @functools.cache
    def run(name: str) -> ConformanceRun:
        defect = next(d for d in DEFECTS if d.name == name)
        return run_with_defect(defect, tmp_path_factory.mktemp("junit") / "run.xml")

    return run


@pytest.fixture(scope="session")
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture(scope="session")
def live_mock(
    clock: SettableClock, sleeps: RecordedSleeps, store_url: str
) -> Iterator[InProcessMock]:
    """The mock on each store, in this process: the tests of the API and the control API do
    not test sockets (tests that do start servers of their own)."""
    with in_process(MockConfig(clock=clock, store=store_url, sleep=sleeps)) as mock:
        yield mock


TEST_SESSIONS = itertools.count()


@pytest.fixture
def session(live_mock: InProcessMock, clock: SettableClock) -> Iterator[dict[str, str]]:
    """This test's own state, as the product isolates its users: a session (``X-Mock-Session``)
    made from the demo data on first use. After the test it is deleted with its faults, as are
    the sessions the test named itself and the faults it set without one. The clock is the real
    one; the journal (one for the whole mock) starts empty."""
    name = f"test-{os.getpid()}-{next(TEST_SESSIONS)}"
    clock.pinned = None
    with live_mock.client("/__mock__", headers=JSON) as every_session:
        every_session.delete("/requests").raise_for_status()
        try:
            yield {SESSION_HEADER: name}
        finally:
            for left in every_session.get("/sessions").json()["sessions"]:
                every_session.delete(f"/sessions/{left}").raise_for_status()
            every_session.delete("/faults").raise_for_status()


@pytest.fixture
def control(live_mock: InProcessMock, session: dict[str, str]) -> Iterator[httpx.Client]:
    """The control API in this test's session."""
    with live_mock.client("/__mock__", headers=JSON | session, timeout=10) as client:
        yield client


def _contract_client(
    live_mock: InProcessMock,
    path: str,
    contract: str,
    headers: dict[str, str],
    auth: tuple[str, str] | None = DEMO_AUTH,
) -> ContractClient:
    return ContractClient(
        live_mock.root + path, contract, auth, headers=headers, transport=live_mock.transport
    )


@pytest.fixture(params=["/v3", "/v3/credit"])
def marqeta(
    request: pytest.FixtureRequest, live_mock: InProcessMock, session: dict[str, str]
) -> Iterator[ContractClient]:
    """A contract-checking client for the Marqeta API in this test's session, under each path
    spelling."""
    client = _contract_client(live_mock, request.param, MARQETA, session)
    yield client
    client.close()


@pytest.fixture
def v3(live_mock: InProcessMock, session: dict[str, str]) -> Iterator[ContractClient]:
    """Like ``marqeta``, under ``/v3`` only, for tests whose point is not the path spelling."""
    client = _contract_client(live_mock, "/v3", MARQETA, session)
    yield client
    client.close()


@pytest.fixture
def open_account(control: httpx.Client):
    """Create a Marqeta account with a given balance through the control API."""

    def create(balance: Any, **fields: Any) -> dict[str, Any]:
        response = control.post("/accounts", json={"current_balance": balance, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    return create


BALANCED = "balanced-v1.yaml"


@pytest.fixture
def default_v3(live_mock: InProcessMock, session: dict[str, str]) -> Iterator[ContractClient]:
    """Like ``v3``, in the default state (no ``X-Mock-Session``): for what sessions must leave
    alone. A test that changes the default state changes it for the tests after it."""
    client = _contract_client(live_mock, "/v3", MARQETA, {})
    yield client
    client.close()


@pytest.fixture
def balanced(live_mock: InProcessMock, session: dict[str, str]) -> Iterator[ContractClient]:
    """A contract-checking client for the Balanced API (API key secret, empty password)."""
    client = _contract_client(live_mock, "/v1", BALANCED, session, auth=(DEMO_BALANCED_SECRET, ""))
    yield client
    client.close()


@pytest.fixture
def mock_control(live_mock: InProcessMock, session: dict[str, str]) -> Iterator[ContractClient]:
    """The control API through a client that checks answers against mock-control.yaml."""
    # Changes to state go as JSON, body or none (what the control API's guard asks for).
    client = _contract_client(
        live_mock, "/__mock__", "mock-control.yaml", JSON | session, auth=None
    )
    yield client
    client.close()


@pytest.fixture
def seed(control: httpx.Client):
    """Load a fixtures document through the control API; returns what was created."""

    def load(fixtures: dict[str, Any]) -> dict[str, Any]:
        response = control.post("/seed", json=fixtures)
        assert response.status_code == 201, response.text
        return response.json()

    return load


@pytest.fixture
def buyer(seed) -> dict[str, Any]:
    """A fresh marketplace ``MP`` with account ``AC1`` and no debits yet."""
    created = seed(
        {"balanced": {"marketplaces": [{"id": "MP", "name": "Shop", "accounts": [{"id": "AC1"}]}]}}
    )
    return created["balanced"]["marketplaces"][0]["accounts"][0]


def _limit_open_files(count: int) -> None:
    """In the child, before the mock starts: at most ``count`` file descriptors (ulimit -n)."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


@pytest.fixture
def start_mock(tmp_path: Path):
    """Start the CLI in a subprocess; wait for it to answer; stop it at the end.

    Its output goes to a file (``log_of(process)``): a pipe nobody reads would fill up under load
    and stall the server.
    """
    started: list[subprocess.Popen[str]] = []

    def start(
        *args: str, port: int | None = None, open_files: int | None = None
    ) -> tuple[subprocess.Popen[str], str]:
        port = port or free_port()
        # Responses checked on the way out, unless the test chose otherwise.
        checked = [] if "--no-validate-responses" in args else ["--validate-responses"]
        log = tmp_path / f"mock-{len(started)}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "mock_server", "--port", str(port), *checked, *args],
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,  # its workers too can be stopped as one group
                preexec_fn=None if open_files is None else lambda: _limit_open_files(open_files),
            )
        LOGS[process.pid] = log
        started.append(process)
        root = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{root}/__mock__/health", timeout=1)
                return process, root
            except httpx.TransportError:
                assert process.poll() is None, log_of(process)
                time.sleep(0.1)
        raise AssertionError("mock did not start within 30 s")

    yield start
    for process in started:
        # The whole group: a --workers supervisor's workers would outlive it otherwise.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
