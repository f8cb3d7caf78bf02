"""Helpers shared by the tests: a live mock on a free port, a settable clock, a checking client."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

import conformance.http
from mock_server.app import MockConfig, build_app
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from mock_server.marqeta.vendor import DEMO_PASSWORD, DEMO_USER
from mock_server.registry import control_contract
from mock_server.spec import CONTRACTS_DIR, CONTROL_CONTRACT, Contract, load_contract
from mock_server.store import Listing, PageQuery, Record, Store, Stored, Transaction

ROOT = Path(__file__).resolve().parent.parent
DEMO_AUTH = (DEMO_USER, DEMO_PASSWORD)
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


class SettableClock:
    """The system clock, unless a test has pinned it to a moment."""

    def __init__(self) -> None:
        self.pinned: datetime | None = None

    def now(self) -> datetime:
        return self.pinned or datetime.now(UTC)


class RecordedSleeps:
    """A fault's wait, recorded instead of taken: tests check the delay asked for."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(0)


LOGS: dict[int, Path] = {}  # pid of a mock started by the start_mock fixture -> its output


def log_of(process: Any) -> str:
    """What a mock started by ``start_mock`` has printed so far."""
    return LOGS[process.pid].read_text()


def stop(process: Any, sig: int = signal.SIGINT, timeout: float = 15) -> str:
    """Signal a mock started by ``start_mock``, wait for it to end, and return its output."""
    process.send_signal(sig)
    process.wait(timeout=timeout)
    return log_of(process)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveMock:
    root: str  # http://127.0.0.1:PORT
    app: Any


@contextmanager
def serve(config: MockConfig, store: Store | None = None) -> Iterator[LiveMock]:
    """Run the mock under uvicorn in a thread on a free port; stop it on exit.

    Responses are checked against the contract as they leave, so a mock bug fails its test.
    """
    app = build_app(replace(config, validate_responses=True), store)
    with serve_app(app) as root:
        yield LiveMock(root=root, app=app)


@contextmanager
def serve_app(app: Any, start_timeout: float = 15.0) -> Iterator[str]:
    """Run any ASGI app under uvicorn in a thread on a free 127.0.0.1 port; yield its root URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("mock server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class SlowReadStore:
    """Wraps a store so that every read's result arrives ``delay`` seconds late, as over a network.

    Concurrent transactions that are not serialised then overlap for certain, so a test of
    atomicity fails reliably when the serialisation is missing.
    """

    blocking = True  # its reads sleep: the app must call it from threads, so requests overlap

    def __init__(self, inner: Store, delay: float = 0.002) -> None:
        self.inner = inner
        self.delay = delay

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self.inner.transaction() as tx:
            yield _SlowReads(tx, self.delay)

    def index(self, listing: Listing) -> None:
        self.inner.index(listing)

    def export(self) -> list[Stored]:
        return self.inner.export()

    def replace_all(self, records: list[Stored]) -> None:
        self.inner.replace_all(records)

    def clear(self) -> None:
        self.inner.clear()

    def is_empty(self) -> bool:
        return self.inner.is_empty()

    def close(self) -> None:
        self.inner.close()

    def destroy(self) -> None:
        self.inner.destroy()


class _SlowReads:
    def __init__(self, tx: Transaction, delay: float) -> None:
        self.tx = tx
        self.delay = delay

    def is_empty(self) -> bool:
        return self.tx.is_empty()

    def clear(self) -> None:
        self.tx.clear()

    def get(self, kind: str, key: str) -> Record | None:
        record = self.tx.get(kind, key)
        time.sleep(self.delay)  # the result arrives late: what was read may be stale by then
        return record

    def add(self, kind: str, key: str, record: Record, owners: Iterable[str] = ("",)) -> None:
        self.tx.add(kind, key, record, owners)

    def replace(self, kind: str, key: str, record: Record) -> None:
        self.tx.replace(kind, key, record)

    def owned(self, kind: str, owner: str = "") -> Iterator[Record]:
        return self.tx.owned(kind, owner)

    def page(self, kind: str, owner: str, query: PageQuery) -> tuple[list[Record], int]:
        return self.tx.page(kind, owner, query)


class ContractClient(conformance.http.ContractClient):
    """An HTTP client for one vendor API that checks every response against its contract.

    The check is Schemathesis' own response validation (status code documented, body matches
    the schema, content type), so a response the contract does not allow fails the test that
    made it.
    """

    def __init__(self, base_url: str, contract_file: str, auth: Any = DEMO_AUTH) -> None:
        contract = (
            control_contract()
            if contract_file == CONTROL_CONTRACT
            else str(CONTRACTS_DIR / contract_file)
        )
        super().__init__(base_url, contract, auth)


def served(filename: str) -> Contract:
    """The contract the mock serves for ``filename``: the control contract with every vendor's
    part merged in, a vendor's as written (file references inlined)."""
    return control_contract() if filename == CONTROL_CONTRACT else load_contract(filename)


Post = tuple[str, dict[str, Any], tuple[str, str]]  # (url, JSON body, basic auth)


def race(posts: list[Post], barrier_timeout: float = 60) -> list[httpx.Response]:
    """Send each POST from a client of its own, all released at once by one barrier (clients
    are slow to build: without it the first would be done before the last started)."""
    start_together = threading.Barrier(len(posts), timeout=barrier_timeout)

    def post(request: Post) -> httpx.Response:
        url, body, auth = request
        with httpx.Client(auth=auth, timeout=60) as client:
            start_together.wait()
            return client.post(url, json=body)

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        return list(pool.map(post, posts))


AUTH = {"marqeta": ":".join(DEMO_AUTH), "balanced": f"{DEMO_BALANCED_SECRET}:"}
BASE = {"marqeta": "/v3", "balanced": "/v1"}


def run_conformance(api: str, root: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``python -m conformance run`` against ``root``, as a user runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--api",
            api,
            "--base-url",
            root + BASE[api],
            "--auth",
            AUTH[api],
            "--max-examples",
            "5",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
