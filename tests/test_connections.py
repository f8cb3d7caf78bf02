"""Connection hygiene: clients that connect and stall cannot take the mock from everyone else."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from mock_server.connections import GuardedHttpProtocol
from tests.support import DEMO_AUTH

PARTIAL_HEADERS = b"GET /v3/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


async def NO_APP(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the protocol's parser is tested alone: no request reaches an app")


@contextlib.contextmanager
def stalled_clients(root: str, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections, half saying nothing, half stuck in the middle of their headers."""
    host, port = root.removeprefix("http://").split(":")
    held = []
    try:
        for number in range(count):
            sock = socket.create_connection((host, int(port)), timeout=10)
            if number % 2:
                sock.sendall(PARTIAL_HEADERS)
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within a time (whatever it still sends first: the
    rest of an answer is read and set aside)."""
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_more_stalled_sockets_than_the_cap_and_the_fd_limit_do_not_lock_anyone_out(start_mock):
    # 300 stalled clients against a mock allowed 256 file descriptors and 64 connections: it
    # would run out of descriptors; the cap evicts the longest-waiting stalled one instead.
    _, root = start_mock("--max-connections", "64", "--header-timeout", "60", open_files=256)
    with stalled_clients(root, 300):
        for _ in range(30):
            answered = httpx.get(f"{root}/v3/accounts", auth=DEMO_AUTH, timeout=10)
            assert answered.status_code == 200
        assert httpx.get(f"{root}/__mock__/health", timeout=10).status_code == 200


def test_silent_and_slow_header_connections_are_closed_after_the_header_timeout(start_mock):
    _, root = start_mock("--header-timeout", "1")
    with stalled_clients(root, 2) as (silent, slow):
        # Bounded wait for the server's own timer: a second, with room for a loaded machine.
        assert closed_by_server(silent, within=15)
        assert closed_by_server(slow, within=15)
        assert httpx.get(f"{root}/__mock__/health").status_code == 200


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive(start_mock):
    _, root = start_mock("--keep-alive", "1", "--max-connections", "4")
    host, port = root.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as idle:
        idle.sendall(b"GET /__mock__/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in idle.recv(4096)
        assert closed_by_server(idle, within=15)


@pytest.mark.parametrize(
    "callback",
    [
        "connection_made",
        "on_message_begin",
        "on_headers_complete",
        "on_message_complete",
        "on_response_complete",
        "data_received",
        "connection_lost",
        "timeout_keep_alive_handler",
        "shutdown",
    ],
)
def test_the_uvicorn_callbacks_the_guard_relies_on_are_still_there(callback):
    # mock_server/connections.py overrides these; an upgrade that renames one must fail here.
    assert callable(getattr(HttpToolsProtocol, callback))
    assert issubclass(GuardedHttpProtocol, HttpToolsProtocol)


def test_uvicorns_supervisor_terminates_its_workers_through_one_method_and_keeps_its_sockets():
    # WorkerSupervisor closes the listening socket in terminate_all, before the workers stop.
    from uvicorn.supervisors import Multiprocess

    assert callable(Multiprocess.terminate_all)
    assert "self.terminate_all()" in inspect.getsource(Multiprocess.run)
    assert "self.sockets = sockets" in inspect.getsource(Multiprocess.__init__)


def test_uvicorn_keeps_a_shared_connections_set_on_each_protocol():
    state = ServerState()
    loop = asyncio.new_event_loop()
    try:
        protocol = HttpToolsProtocol(
            config=Config(app=NO_APP, http="httptools"),
            server_state=state,
            app_state={},
            _loop=loop,
        )
    finally:
        loop.close()
    assert protocol.connections is state.connections


@pytest.mark.parametrize(
    ("prefix", "shape"),
    [("/v3/accounts/", "error_code"), ("/v1/marketplaces/", "category_code")],
)
def test_a_request_line_too_long_to_read_gets_the_vendors_error_shape(start_mock, prefix, shape):
    _, root = start_mock()
    host, port = root.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {prefix}{'x' * 70_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"application/json" in head
    assert shape in json.loads(body)


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """The head and body the server sent before closing."""
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


def body_drip(root: str) -> socket.socket:
    """A request whose headers promise a body of which one byte ever arrives."""
    host, port = root.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        b"POST /v3/accounts/demo_account_credit_balance/refunds HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Basic ZGVtb19hcHBfdG9rZW46ZGVtb19hY2Nlc3NfdG9rZW4=\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    return sock


def test_a_body_that_stalls_is_answered_408_and_closed(start_mock):
    _, root = start_mock("--body-timeout", "1")
    with body_drip(root) as sock:
        head, body = read_answer(sock)  # the server's own timer: bounded by the socket timeout
    assert head.startswith(b"HTTP/1.1 408"), head
    assert b"--body-timeout" in body
    assert httpx.get(f"{root}/__mock__/health").status_code == 200


def test_dripping_bodies_on_every_connection_do_not_lock_anyone_out(start_mock):
    # 70 uploads that never finish against a cap of 64: waiting on their clients, they are
    # evicted for newcomers like idle connections are.
    _, root = start_mock("--max-connections", "64", "--body-timeout", "600")
    dripping = [body_drip(root) for _ in range(70)]
    try:
        for _ in range(20):
            answered = httpx.get(f"{root}/v3/accounts", auth=DEMO_AUTH, timeout=10)
            assert answered.status_code == 200
    finally:
        for sock in dripping:
            sock.close()


@pytest.mark.parametrize("size", [300 * 1024, 8 * 1024 * 1024])
def test_headers_over_the_limit_are_answered_431_before_they_are_read_whole(start_mock, size):
    _, root = start_mock()
    host, port = root.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"GET /v3/accounts HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < size:  # the server answers and closes part of the way through
                sent += sock.send(b"a" * 65536)
        head, body = read_answer(sock)
    assert head.startswith(b"HTTP/1.1 431"), head
    assert b"application/problem+json" in head
    assert json.loads(body)["status"] == 431
    assert sent < size or size < 1024 * 1024  # an 8 MB header is never taken whole


def test_a_request_refused_before_its_path_is_read_gets_the_neutral_shape(start_mock):
    _, root = start_mock()
    host, port = root.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"\x00\x01 nonsense\r\n\r\n")
        head, body = read_answer(sock)
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"application/problem+json" in head
    assert json.loads(body)["status"] == 400


def test_the_uvicorn_cycle_says_whether_its_answer_started():
    # The body deadline reads it: an answer already under way is not interrupted by a 408.
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    assert "response_started" in RequestResponseCycle.__init__.__code__.co_names
