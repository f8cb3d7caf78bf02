"""pytest fixtures for other projects' tests: the mock for a test session, a state per test.

Installed with the kit (``pytest11`` entry point ``refund_mock``), so a project that installs
``refund-contract-kit[mock]`` can write::

    def test_the_demo_account_has_a_credit_balance(refund_mock):
        account = refund_mock.client("marqeta").get("/accounts/demo_account_credit_balance")
        assert account.json()["current_balance"] == -1250

The server (``refund-mock`` in a process of its own, on a free 127.0.0.1 port) starts once per
test session with the options of the ``refund_mock_args`` fixture, which a project overrides in
its ``conftest.py`` (``["--no-demo", "--start-data", "start.yaml"]``). Each test gets a session of
its own (``X-Mock-Session``), made from those fixtures and deleted after the test, so tests
neither see nor disturb each other's refunds, also under pytest-xdist.

Only ``pytest``, ``httpx`` and the kit's shared TLS context are imported here: the plugin loads
in every pytest run of a project that has the kit installed, whichever extras it chose.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.http_clients import tls_context

SESSION_HEADER = "X-Mock-Session"
START_TIMEOUT_S = 60.0  # a cold start imports Connexion and loads three contracts
STOP_TIMEOUT_S = 15.0
PORT_ATTEMPTS = 5  # a free port can be taken between our check and the server's bind
JOURNAL_LIMIT = 1000  # the most entries one journal query answers (--journal-size's default)


class FirstReleaseNames:
    """The per-API names of the fixture's first release, kept as aliases of ``url(api)`` and
    ``auth(api)`` for the tests that use them."""

    def url(self, api: str) -> str:
        raise NotImplementedError

    def auth(self, api: str) -> tuple[str, str]:
        raise NotImplementedError

    @property
    def marqeta_url(self) -> str:
        return self.url("marqeta")

    @property
    def balanced_url(self) -> str:
        return self.url("balanced")

    @property
    def marqeta_auth(self) -> tuple[str, str]:
        return self.auth("marqeta")

    @property
    def balanced_auth(self) -> tuple[str, str]:
        return self.auth("balanced")


@dataclass(frozen=True)
class ApiAccess:
    """Where the mock serves one vendor API, and the credentials it accepts for it."""

    path: str  # e.g. /v3
    auth: tuple[str, str] = field(repr=False)


@dataclass(frozen=True)
class RefundMockServer(FirstReleaseNames):
    """A running mock: its root URL, and each vendor API's path and credentials by name."""

    root: str  # http://127.0.0.1:PORT
    apis: Mapping[str, ApiAccess]
    log: Path = field(repr=False)
    control_token: str | None = field(default=None, repr=False)

    def url(self, api: str) -> str:
        """The base URL of vendor API ``api`` (``marqeta``: ``http://127.0.0.1:PORT/v3``)."""
        return self.root + self._access(api).path

    def auth(self, api: str) -> tuple[str, str]:
        """The (user, password) the mock accepts for ``api``."""
        return self._access(api).auth

    @property
    def control_url(self) -> str:
        return f"{self.root}/__mock__"

    def _access(self, api: str) -> ApiAccess:
        if api not in self.apis:
            raise KeyError(f"the mock serves no API {api!r}; it serves {', '.join(self.apis)}")
        return self.apis[api]


@dataclass(frozen=True)
class RefundMock(FirstReleaseNames):
    """One test's view of the mock: its own session, and clients that send the session header."""

    server: RefundMockServer
    session: str

    @property
    def headers(self) -> dict[str, str]:
        """Send these with every request (your app's HTTP client too) to use this test's state."""
        return {SESSION_HEADER: self.session}

    def url(self, api: str) -> str:
        return self.server.url(api)

    def auth(self, api: str) -> tuple[str, str]:
        return self.server.auth(api)

    def client(self, api: str) -> httpx.Client:
        """A client for vendor API ``api`` (its base URL and credentials) in this test's
        session: ``client("marqeta")``, ``client("balanced")``."""
        return httpx.Client(
            base_url=self.url(api),
            auth=self.auth(api),
            headers=self.headers,
            timeout=30,
            verify=tls_context(),
        )

    @property
    def control_url(self) -> str:
        return self.server.control_url

    def marqeta(self) -> httpx.Client:  # first-release alias of client("marqeta")
        return self.client("marqeta")

    def balanced(self) -> httpx.Client:  # first-release alias of client("balanced")
        return self.client("balanced")

    def calls(
        self,
        operation: str | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        status: int | None = None,
        path: str | None = None,
        refused: bool | None = None,
    ) -> list[dict[str, Any]]:
        """The requests this test's session made to the vendor APIs, oldest first, as the mock's
        journal kept them (each with its ``operation``, ``status``, both bodies and, when the
        contract refused it, why): only those to ``operation``, whose JSON body has ``body``'s
        fields, answered ``status``, under ``path``, or (not) ``refused`` when given. The newest
        1,000 at most."""
        return self._journal(operation, body, status, path, refused)[0]

    def _journal(
        self,
        operation: str | None,
        body: Mapping[str, Any] | None,
        status: int | None,
        path: str | None,
        refused: bool | None,
    ) -> tuple[list[dict[str, Any]], int]:
        """The matching journal entries, oldest first, and how many match in all."""
        asked = {
            "session": self.session,
            "operation": operation,
            "body": json.dumps(body) if body is not None else None,
            "status": status,
            "path": path,
            "refused": None if refused is None else str(refused).lower(),
            "limit": JOURNAL_LIMIT,
        }
        with self.control() as control:
            answer = control.get(
                "/requests", params={k: v for k, v in asked.items() if v is not None}
            )
        answer.raise_for_status()
        found = answer.json()
        return list(reversed(found["requests"])), int(found["matched"])

    def assert_called(
        self,
        operation: str,
        *,
        times: int | None = None,
        body: Mapping[str, Any] | None = None,
        status: int | None = None,
    ) -> list[dict[str, Any]]:
        """Fail unless ``operation`` was called in this test's session (exactly ``times`` times
        when given, else at least once) with a JSON body having ``body``'s fields, answered
        ``status`` when given. Returns those calls; the failure lists what the test did call."""
        found, matched = self._journal(operation, body, status, None, None)
        if matched == times or (times is None and matched):
            return found
        wanted = " ".join(
            part
            for part in (
                operation,
                f"with a body having {json.dumps(body)}" if body is not None else "",
                f"answered {status}" if status is not None else "",
                "at least once" if times is None else f"{times} time(s)",
            )
            if part
        )
        made = [
            f"  {c['method']} {c['path']} -> {c['status']} ({c['operation'] or 'no operation'})"
            f" {c['request_body'] or ''}".rstrip()
            for c in self.calls()
        ]
        raise AssertionError(
            f"expected {wanted}; found {matched}. This test's calls, oldest first:\n"
            + ("\n".join(made) or "  (none)")
        )

    def control(self) -> httpx.Client:
        """A client for the control API (``/__mock__``) in this test's session."""
        # Changes to state go as JSON, body or none (the mock's guard asks for it).
        headers = {**self.headers, "Content-Type": "application/json"}
        if self.server.control_token:
            headers["X-Mock-Control-Token"] = self.server.control_token
        return httpx.Client(
            base_url=self.control_url, headers=headers, timeout=30, verify=tls_context()
        )


@pytest.fixture(scope="session")
def refund_mock_args() -> list[str]:
    """Options for ``refund-mock`` (override in your conftest.py); the demo data by default."""
    return []


@pytest.fixture(scope="session")
def refund_mock_server(refund_mock_args: list[str]) -> Iterator[RefundMockServer]:
    """The mock, started once for the test session and stopped after it."""
    apis, control_token = _access(refund_mock_args)
    with tempfile.TemporaryDirectory(prefix="refund-mock-") as workdir:
        log = Path(workdir) / "refund-mock.log"
        process, root = _start(refund_mock_args, log, next(iter(apis.values())).path)
        try:
            yield RefundMockServer(root, apis, log, control_token)
        finally:
            _stop(process)


_tests = itertools.count(1)


@pytest.fixture
def refund_mock(
    refund_mock_server: RefundMockServer, request: pytest.FixtureRequest
) -> Iterator[RefundMock]:
    """The mock, as a state of this test's own (a session made from the start fixtures)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:32]
    session = f"pytest-{os.getpid()}-{next(_tests)}-{name}".rstrip("-.")[:64]
    mock = RefundMock(refund_mock_server, session)
    yield mock
    # The session's state goes with the test; a mock already gone has nothing to keep.
    with mock.control() as control, contextlib.suppress(httpx.TransportError):
        control.delete(f"/sessions/{session}")


def _access(args: list[str]) -> tuple[dict[str, ApiAccess], str | None]:
    """Each registered API's path and the first credentials the mock will accept for it with
    these options, and the control token it will require (if any)."""
    # The [mock] extra. Connexion's own deprecation notices are not the user's to read.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from mock_server.command import config_from, parse_args
        from mock_server.registry import VENDORS
        from mock_server.spec import load_contract

    try:
        config = config_from(parse_args(args))
    except (ValueError, SystemExit) as exc:
        raise pytest.UsageError(f"refund_mock_args {args}: {exc}") from None
    apis = {
        vendor.name: ApiAccess(
            path=load_contract(vendor.contract_file)["servers"][0]["url"],
            auth=config.credentials_for(vendor).pairs[0],
        )
        for vendor in VENDORS
    }
    return apis, config.control_token


def _start(args: list[str], log: Path, api_path: str) -> tuple[subprocess.Popen[bytes], str]:
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        command = [sys.executable, "-m", "mock_server", "--host", "127.0.0.1"]
        command += ["--port", str(port), *args]
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        root = f"http://127.0.0.1:{port}"
        if _wait_until_serving(process, f"{root}{api_path}/openapi.json"):
            return process, root
        _stop(process)
        if "is in use" not in log.read_text(errors="replace"):
            break
    raise RuntimeError(f"refund-mock did not start:\n{log.read_text(errors='replace')}")


def _wait_until_serving(process: subprocess.Popen[bytes], contract_url: str) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            # The contract is served whatever the options (--no-control included).
            if httpx.get(contract_url, timeout=2, verify=tls_context()).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the mock and everything it started (its whole process group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_S)
    except ProcessLookupError:
        pass  # it ended, and nothing it started is left
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
