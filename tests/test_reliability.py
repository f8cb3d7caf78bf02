"""The mock as a team shares it: several workers on one SQLite file never invent money, never
lose an acknowledged refund, and shut down cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from mock_server.http_clients import tls_context
from tests.support import DEMO_AUTH, free_port, log_of, race, run_cli, run_conformance, stop

CLIENTS = 64
BALANCED_AUTH = (DEMO_BALANCED_SECRET, "")


@pytest.fixture
def shared_mock(start_mock, tmp_path: Path):
    """The mock with two workers on a SQLite file, empty."""
    database = tmp_path / "mock.db"
    process, root = start_mock("--no-demo", "--store", f"sqlite:{database}", "--workers", "2")
    return process, root, database


def test_two_workers_on_sqlite_never_refund_past_the_balance(shared_mock):
    _, root, _ = shared_mock
    account = httpx.post(f"{root}/__mock__/accounts", json={"current_balance": -200}).json()
    url = f"{root}/v3/accounts/{account['token']}/refunds"
    # 64 refunds of 3.50 to 9.80 ask for about 425.60 against a credit balance of 200.00.
    amounts = [Decimal("3.50") + Decimal("0.10") * (i % 64) for i in range(CLIENTS)]
    bodies = [
        {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": float(a)} for a in amounts
    ]
    responses = race([(url, body, DEMO_AUTH) for body in bodies])

    statuses = [r.status_code for r in responses]
    assert all(status < 500 for status in statuses), statuses
    assert set(statuses) <= {201, 400}, statuses
    accepted = sum(Decimal(str(r.json()["amount"])) for r in responses if r.status_code == 201)
    assert Decimal(0) < accepted <= Decimal(200)
    final = httpx.get(f"{root}/v3/accounts/{account['token']}", auth=DEMO_AUTH).json()
    assert Decimal(str(final["current_balance"])) == Decimal(-200) + accepted
    listed = httpx.get(f"{url}?count=100", auth=DEMO_AUTH).json()
    assert listed["count"] == statuses.count(201)


def test_two_workers_on_sqlite_never_refund_more_than_a_debit(shared_mock):
    _, root, _ = shared_mock
    fixtures = {
        "balanced": {
            "marketplaces": [
                {
                    "id": "MP",
                    "name": "S",
                    "accounts": [{"id": "AC", "debits": [{"id": "WD", "amount": 1000}]}],
                }
            ]
        }
    }
    httpx.post(f"{root}/__mock__/seed", json=fixtures).raise_for_status()
    bodies = [
        {"debit_uri": "/v1/marketplaces/MP/debits/WD", "amount": 17 + i % 7} for i in range(CLIENTS)
    ]
    url = f"{root}/v1/marketplaces/MP/refunds"
    responses = race([(url, body, BALANCED_AUTH) for body in bodies])

    statuses = [r.status_code for r in responses]
    assert all(status < 500 for status in statuses), statuses
    assert set(statuses) <= {201, 400, 409}, statuses
    accepted = [r.json() for r in responses if r.status_code == 201]
    assert 0 < sum(refund["amount"] for refund in accepted) <= 1000
    listed = httpx.get(
        f"{root}/v1/marketplaces/MP/debits/WD/refunds?limit=100", auth=BALANCED_AUTH
    ).json()
    assert listed["total"] == len(accepted)


def test_refunds_acknowledged_before_a_kill_are_all_there_after_restart(start_mock, tmp_path):
    database = tmp_path / "mock.db"
    port = free_port()
    process, root = start_mock("--no-demo", "--store", f"sqlite:{database}", port=port)
    account = httpx.post(f"{root}/__mock__/accounts", json={"current_balance": -100000}).json()
    url = f"{root}/v3/accounts/{account['token']}/refunds"
    acknowledged: dict[str, dict] = {}
    refused: list[str] = []
    stop_sending = threading.Event()

    def send(client_number: int) -> None:
        with httpx.Client(verify=tls_context(), auth=DEMO_AUTH, timeout=10) as client:
            for n in range(10_000):
                if stop_sending.is_set():
                    return
                token = f"kill-{client_number}-{n}"
                # Every fifth asks for more than the balance: refused, so it must not appear.
                amount = 200000 if n % 5 == 4 else 1.25
                body = {"token": token, "method": "ACH", "type": "CREDIT_BALANCE_REFUND"}
                try:
                    response = client.post(url, json={**body, "amount": amount})
                except httpx.TransportError:
                    return  # the server died under this request: its fate is unknown
                if response.status_code == 201:
                    acknowledged[token] = response.json()
                else:
                    refused.append(token)

    senders = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for sender in senders:
        sender.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()  # SIGKILL, mid-load
    process.wait(timeout=10)
    stop_sending.set()
    for sender in senders:
        sender.join(timeout=30)
    assert len(acknowledged) >= 150 and refused

    _, root = start_mock("--no-demo", "--store", f"sqlite:{database}", port=port)
    with httpx.Client(
        verify=tls_context(), base_url=url.replace(f"http://127.0.0.1:{port}", root), auth=DEMO_AUTH
    ) as c:
        for token, created in acknowledged.items():
            assert c.get(f"/{token}").json() == created, token
        for token in refused:
            assert c.get(f"/{token}").status_code == 404, token


def test_sigterm_finishes_the_request_in_flight_and_closes_the_store(start_mock, tmp_path):
    database = tmp_path / "mock.db"
    port = free_port()
    process, root = start_mock("--store", f"sqlite:{database}", port=port)
    url = f"{root}/v3/accounts/demo_account_credit_balance/refunds"

    def slow_body() -> Iterator[bytes]:
        # The request is in flight (headers read, body still coming) when SIGTERM arrives.
        yield b'{"token": "in_flight", "method": "ACH", '
        time.sleep(1.5)
        yield b'"type": "CREDIT_BALANCE_REFUND", "amount": 5}'

    answered: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: answered.append(
            httpx.post(
                url,
                content=slow_body(),
                headers={"Content-Type": "application/json"},
                auth=DEMO_AUTH,
                timeout=30,
            )
        )
    )
    sender.start()
    time.sleep(0.5)
    output = stop(process, signal.SIGTERM)
    sender.join(timeout=30)

    assert answered and answered[0].status_code == 201, output
    # uvicorn shuts down cleanly, then ends by the signal it was sent, as Unix tools do.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output and "Traceback" not in output
    # SQLite removes the write-ahead log when the last connection closes cleanly.
    assert not Path(f"{database}-wal").exists()
    _, root = start_mock("--store", f"sqlite:{database}", port=port)
    kept = httpx.get(f"{url.replace(f'http://127.0.0.1:{port}', root)}/in_flight", auth=DEMO_AUTH)
    assert kept.json() == answered[0].json()


def test_workers_need_a_shared_store(start_mock):

    result = run_cli("--workers", "2")
    assert result.returncode == 2
    assert "--store sqlite:PATH" in result.stderr


def test_credentials_never_reach_the_log(start_mock, tmp_path):
    process, root = start_mock("--auth", "team:Pa55-word", "--balanced-key", "ak-live-secret")
    for auth in (("team", "Pa55-word"), ("team", "wrong-Pa55"), ("ak-live-secret", "")):
        httpx.get(f"{root}/v3/accounts", auth=auth)
        httpx.get(f"{root}/v1/marketplaces", auth=auth)
    output = log_of(process)
    assert "GET /v3/accounts" in output  # requests are logged...
    for secret in ("Pa55-word", "wrong-Pa55", "ak-live-secret"):
        assert secret not in output  # ...their credentials are not


@pytest.mark.parametrize("api", ["marqeta", "balanced"])
def test_generated_requests_against_two_workers_on_sqlite_break_nothing(shared_mock, api):
    """Schemathesis' positive and negative cases on every operation (the soak's small brother)."""

    _, root, _ = shared_mock
    result = run_conformance(api, root, "--seed", "7")
    assert result.returncode == 0, result.stdout[-4000:]
    answered = next(line for line in result.stdout.splitlines() if "generated requests" in line)
    assert "5xx" not in answered and int(answered.split()[2]) > 300, answered


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be collected


def test_workers_whose_supervisor_dies_stop_serving(shared_mock):
    process, root, _ = shared_mock
    workers = children_of(process.pid)
    assert workers  # uvicorn's workers (and its resource tracker)
    process.kill()  # SIGKILL: the supervisor cannot stop its workers itself
    process.wait(timeout=10)
    deadline = time.monotonic() + 30  # the workers look for their supervisor every second
    while any(map(is_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if is_running(pid)]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{root}/__mock__/health", timeout=2)


def test_with_workers_no_connection_made_while_they_start_is_dropped(tmp_path):
    """The port accepts from the moment it is bound; a request sent then waits for a worker
    instead of being reset when a second socket replaces the first."""
    port = free_port()
    command = [sys.executable, "-m", "mock_server", "--port", str(port), "--workers", "2"]
    command += ["--store", f"sqlite:{tmp_path / 'mock.db'}"]
    log = (tmp_path / "mock.log").open("w")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    failures: list[str] = []
    answered = 0
    try:
        url = f"http://127.0.0.1:{port}/__mock__/health"
        while answered == 0:  # until the first answer: every connection accepted must be answered
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                    sock.sendall(b"GET /__mock__/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    head = sock.recv(4096)
            except ConnectionRefusedError:
                assert process.poll() is None, (tmp_path / "mock.log").read_text()
                continue  # not bound yet
            except OSError as exc:
                failures.append(repr(exc))
                continue
            if head.startswith(b"HTTP/1.1 200"):
                answered += 1
            else:
                failures.append(repr(head[:80]))
        assert httpx.get(url).status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        log.close()
    assert failures == []


def read_response(sock: socket.socket) -> bytes:
    """One whole response's head from a kept connection (its body read and set aside); b"" if
    the connection closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        body += chunk
    return head


def test_sigterm_with_workers_answers_every_request_sent_on_a_kept_connection(shared_mock):
    process, root, _ = shared_mock
    host, port = root.removeprefix("http://").split(":")
    request = b"GET /__mock__/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    unanswered: list[int] = []
    answered = [0] * 8
    started = threading.Barrier(len(answered) + 1, timeout=60)

    def client(number: int) -> None:
        """Requests one after another on one kept connection, until an answer says it closes."""
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            started.wait()
            while True:
                try:
                    sock.sendall(request)
                    head = read_response(sock)
                except (BrokenPipeError, ConnectionResetError):
                    head = b""
                if not head.startswith(b"HTTP/1.1 200"):
                    unanswered.append(number)  # sent, and the connection closed unanswered
                    return
                answered[number] += 1
                if b"connection: close" in head.lower():
                    return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(answered))]
    for thread in threads:
        thread.start()
    started.wait()
    while min(answered) < 5:  # every client is mid-stream on its kept connection
        time.sleep(0.01)
    stop(process, signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=60)
    assert unanswered == []
