"""Helpers shared by the tests: a live mock on a free port, a settable clock, a checking client."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import conformance.http
from mock_server.app import MockApp, MockConfig, build_app
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from mock_server.control.forced import OperationAnswers
from mock_server.http_clients import tls_context
from mock_server.lifespan import lifespan_of
from mock_server.marqeta.vendor import DEMO_PASSWORD, DEMO_USER
from mock_server.proxy.app import Contracted, proxy_app
from mock_server.proxy.forwarding import Forwarder, Target, basic_authorization
from mock_server.proxy.recording import Recording
from mock_server.proxy.report import ProxyReport
from mock_server.registry import control_contract, vendor
from mock_server.spec import CONTRACTS_DIR, CONTROL_CONTRACT, Contract, load_contract
from mock_server.store import Listing, PageQuery, Record, Store, Stored, Transaction

ROOT = Path(__file__).resolve().parent.parent
DEMO_AUTH = (DEMO_USER, DEMO_PASSWORD)
# What the control API asks of a request that changes state, body or none (control/guard.py).
JSON = {"Content-Type": "application/json"}
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


class SettableClock:
    """The system clock, unless a test has pinned it to a moment."""

    def __init__(self) -> None:
        self.pinned: datetime | None = None

    def now(self) -> datetime:
        return self.pinned or datetime.now(UTC)


class TickingClock:
    """A second later at each reading, from a fixed moment: no two records share a time."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) -> None:
        self.moment = start

    def now(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


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


IN_PROCESS_ROOT = "http://127.0.0.1"  # a loopback name, as the control API's guard asks; no socket


class InProcessMock:
    """The mock served in this test process without a socket, for tests where a socket is not
    what is tested: the app and its lifespan run on an event loop in a thread of their own
    (anyio's blocking portal), and each client's transport hands requests straight to the app."""

    def __init__(self, app: MockApp, portal: BlockingPortal) -> None:
        self.app = app
        self.root = IN_PROCESS_ROOT
        self.transport = _PortalTransport(app, portal)

    def client(self, path: str = "", **options: Any) -> httpx.Client:
        """An httpx client for ``root + path``; ``options`` as httpx.Client's."""
        return httpx.Client(base_url=self.root + path, transport=self.transport, **options)

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """One request to ``root + path``; ``options`` as httpx.request's (auth, json, ...)."""
        with httpx.Client(transport=self.transport) as client:
            return client.request(method, self.root + path, **options)


class _PortalTransport(httpx.BaseTransport):
    def __init__(self, app: MockApp, portal: BlockingPortal) -> None:
        # As a server would: an exception the app re-raises after answering (Starlette does, for
        # servers to log) does not replace the answer.
        self.asgi = httpx.ASGITransport(app, raise_app_exceptions=False)
        self.portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a byte stream, both sync and async
        return self.portal.call(self._send, request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        seconds = request.extensions.get("timeout", {}).get("read")  # None: no limit
        try:
            with anyio.fail_after(seconds):
                answer = await self.asgi.handle_async_request(request)
                body = await answer.aread()
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {seconds} s", request=request) from exc
        # A stream, not content: the client reads it and so stamps the response's elapsed time.
        return httpx.Response(
            answer.status_code, headers=answer.headers, stream=httpx.ByteStream(body)
        )


@contextmanager
def in_process(config: MockConfig) -> Iterator[InProcessMock]:
    """The mock built from ``config`` (its responses checked against the contract as they
    leave, so a mock bug fails its test), started and stopped in this process."""
    app = build_app(replace(config, validate_responses=True))
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(lifespan_of(app)):
        yield InProcessMock(app, portal)


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

    def add(
        self,
        kind: str,
        key: str,
        record: Record,
        owners: Iterable[str] = ("",),
        taken: Exception | None = None,
    ) -> None:
        self.tx.add(kind, key, record, owners, taken)

    def replace(self, kind: str, key: str, record: Record) -> None:
        self.tx.replace(kind, key, record)

    def read_ahead(self, *slots: tuple[str, str | None]) -> None:
        self.tx.read_ahead(*slots)
        time.sleep(self.delay)

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

    def __init__(
        self,
        base_url: str,
        contract_file: str,
        auth: Any = DEMO_AUTH,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        contract = (
            control_contract()
            if contract_file == CONTROL_CONTRACT
            else str(CONTRACTS_DIR / contract_file)
        )
        super().__init__(base_url, contract, auth, headers=headers, transport=transport)


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
        with httpx.Client(verify=tls_context(), auth=auth, timeout=60) as client:
            start_together.wait()
            return client.post(url, json=body)

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        return list(pool.map(post, posts))


AUTH = {"marqeta": ":".join(DEMO_AUTH), "balanced": f"{DEMO_BALANCED_SECRET}:"}
BASE = {"marqeta": "/v3", "balanced": "/v1"}


@dataclass(frozen=True)
class ConformanceRun:
    """A finished ``refund-conformance run``: its output, and the JUnit file it wrote."""

    result: subprocess.CompletedProcess[str]
    junit: Path


def run_with_junit(api: str, root: str, junit: Path, *extra: str) -> ConformanceRun:
    """``run_conformance`` that also writes ``junit``: a run several tests read."""
    return ConformanceRun(run_conformance(api, root, *extra, "--junit-xml", str(junit)), junit)


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


# The proxy (refund-mock proxy) ---------------------------------------------------------------


def defective_target() -> Starlette:
    """A Marqeta target whose answers break the contract, each its own way."""

    contract = load_contract("marqeta-credit.yaml")
    operation = contract["paths"]["/accounts/{account_token}/refunds"]["post"]
    example = OperationAnswers(contract, "createRefund", operation).example(201)
    assert isinstance(example, dict)

    async def refund_with_a_string_amount(request: Request) -> Response:
        body = {**example, "amount": "five"}  # the contract's own example but for the amount
        return Response(json.dumps(body), status_code=201, media_type="application/json")

    async def accepted(request: Request) -> Response:  # a success status it does not document
        return Response(json.dumps(example), status_code=202, media_type="application/json")

    async def plain_text(request: Request) -> Response:
        return Response("accounts", media_type="text/plain")

    return Starlette(
        routes=[
            Route("/v3/accounts/{account}/refunds", refund_with_a_string_amount, methods=["POST"]),
            Route("/v3/accounts/{account}/refunds/{refund}", accepted),
            Route("/v3/accounts", plain_text),
        ]
    )


@contextmanager
def with_mock(
    target_url: str, fallback: bool = False, api: str = "marqeta", record: Path | None = None
) -> Iterator[str]:
    """The proxy of ``api`` as the command builds it: a mock inside for its dashboard, journal
    and control API, and (``fallback``) for what the target does not implement; ``record``:
    the recording's file, written when the proxy stops."""
    served = vendor(api)
    contract = load_contract(served.contract_file)
    mock = build_app(MockConfig(journal_requests=False))
    demo = served.credentials.demo.pairs[0]
    app = proxy_app(
        [server["url"] for server in contract["servers"]],
        Forwarder(Target(target_url)),
        Contracted.of(contract),
        ProxyReport(api, target_url),
        mock=mock,
        fallback_authorization=basic_authorization(*demo) if fallback else None,
        recording=Recording(mock.apis[api], record) if record is not None else None,
    )
    with serve_app(app) as root:
        yield root


# A real browser -------------------------------------------------------------------------

# As root, in a sandbox with no network beyond loopback: no sandboxing of its own, and no
# background connections (each refused one slows Chromium down).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    """Debian's Chromium, installed with apt when missing; a skip says why where it cannot be."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("Chromium is not installed and apt-get cannot install it here (needs root)")
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    installed = subprocess.run(install, capture_output=True, text=True, timeout=900)
    if installed.returncode != 0:  # a fresh machine may need its package lists first
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=900)
        installed = subprocess.run(install, capture_output=True, text=True, timeout=900)
    found = shutil.which("chromium")
    if found is None:
        pytest.skip(f"apt-get could not install chromium: {installed.stderr[-500:]}")
    return found


def har_of(answers: list[httpx.Response]) -> dict[str, Any]:
    """``answers`` (with their requests) as a HAR 1.2 file holds them."""

    def headers(message: httpx.Request | httpx.Response) -> list[dict[str, str]]:
        return [{"name": name, "value": value} for name, value in message.headers.items()]

    entries = [
        {
            "request": {
                "method": answer.request.method,
                "url": str(answer.request.url),
                "headers": headers(answer.request),
                "postData": {"text": answer.request.content.decode()},
            },
            "response": {
                "status": answer.status_code,
                "statusText": answer.reason_phrase,
                "headers": headers(answer),
                "content": {"text": answer.text, "mimeType": answer.headers["content-type"]},
            },
            "time": answer.elapsed.total_seconds() * 1000,
        }
        for answer in answers
    ]
    return {"log": {"version": "1.2", "entries": entries}}


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """Headless Chromium under Playwright, closed at the end."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
