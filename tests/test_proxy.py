"""`refund-mock proxy`: the vendor API's paths forwarded to a target as a transparent proxy
forwards them. A recording target here sees exactly what the proxy sends; our own mock behind
the proxy answers as it answers directly."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mock_server.app import MockConfig
from mock_server.proxy.app import proxy_app
from mock_server.proxy.forwarding import DECODED_HEADER, Forwarder, Target
from tests.support import DEMO_AUTH, ROOT, free_port, serve, serve_app

BIG = 10 * 1024 * 1024


class RecordingTarget:
    """A target that answers what it was sent (and a few answers a sandbox may give)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.release = asyncio.Event()

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        self.seen.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": request.headers.items(),
                "body": body,
            }
        )
        return Response(
            json.dumps({"got": len(body)}),
            media_type="application/json",
            headers={"Keep-Alive": "timeout=5", "X-Target": "yes"},
        )

    async def gzipped(self, request: Request) -> Response:
        body = gzip.compress(json.dumps({"compressed": True}).encode())
        return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})

    async def stall(self, request: Request) -> Response:
        await self.release.wait()  # until the test ends
        return Response("late")

    async def big(self, request: Request) -> Response:
        return Response(b"x" * BIG, media_type="application/octet-stream")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/sandbox/v3/gzip", self.gzipped),
                Route("/sandbox/v3/stall", self.stall),
                Route("/sandbox/v3/big", self.big),
                Route(
                    "/sandbox/v3/{rest:path}", self.echo, methods=["GET", "POST", "PUT", "DELETE"]
                ),
            ]
        )


@pytest.fixture
def target() -> Iterator[tuple[RecordingTarget, str]]:
    recording = RecordingTarget()
    with serve_app(recording.app()) as root:
        yield recording, root
        recording.release.set()


def proxying(url: str, **options: Any) -> Any:
    return serve_app(proxy_app(["/v3", "/v3/credit"], Forwarder(Target(url, **options))))


def test_a_request_goes_through_byte_for_byte_with_the_targets_host_and_no_hop_headers(target):
    recording, root = target
    body = b'{"amount": 1.10, "note": "\xe2\x82\xac"}'  # exactly these bytes, spacing included
    with proxying(f"{root}/sandbox/v3") as proxy:
        answer = httpx.post(
            f"{proxy}/v3/accounts/a1/refunds?count=5&count=6&x=%2F",
            content=body,
            auth=DEMO_AUTH,
            headers={
                "Content-Type": "application/json",
                "Connection": "keep-alive, X-Hop",
                "X-Hop": "for this connection only",
                "TE": "trailers",
                "X-Mock-Session": "mine",
            },
        )
        also = httpx.get(f"{proxy}/v3/credit/accounts", auth=DEMO_AUTH)  # the other spelling
    assert answer.status_code == 200 and answer.json() == {"got": len(body)}
    assert answer.headers["x-target"] == "yes" and "keep-alive" not in answer.headers
    sent, other = recording.seen
    assert (sent["method"], sent["path"], sent["query"]) == (
        "POST",
        "/sandbox/v3/accounts/a1/refunds",
        "count=5&count=6&x=%2F",
    )
    assert sent["body"] == body
    headers = dict(sent["headers"])
    assert headers["host"] == root.removeprefix("http://")
    assert headers["authorization"].startswith("Basic ")  # the app's own, passed through
    assert headers["x-mock-session"] == "mine"
    assert not {"x-hop", "te"} & set(headers)
    assert headers.get("connection") != "keep-alive, X-Hop"  # the proxy's own connection
    assert other["path"] == "/sandbox/v3/accounts" and also.status_code == 200


def test_target_auth_replaces_the_apps_credentials(target):
    recording, root = target
    with proxying(f"{root}/sandbox/v3", auth=("sandbox-user", "s3cret")) as proxy:
        httpx.get(f"{proxy}/v3/accounts", auth=DEMO_AUTH)
    sent = dict(recording.seen[0]["headers"])
    assert sent["authorization"] == "Basic " + "c2FuZGJveC11c2VyOnMzY3JldA=="


def test_a_compressed_answer_reaches_the_client_decoded_and_says_so(target):
    _, root = target
    with proxying(f"{root}/sandbox/v3") as proxy:
        answer = httpx.get(f"{proxy}/v3/gzip", headers={"Accept-Encoding": "gzip"})
    assert answer.json() == {"compressed": True}
    assert answer.headers[DECODED_HEADER] == "gzip" and "content-encoding" not in answer.headers


def test_a_large_answer_comes_whole(target):
    _, root = target
    with proxying(f"{root}/sandbox/v3") as proxy:
        answer = httpx.get(f"{proxy}/v3/big", timeout=60)
    assert answer.status_code == 200 and len(answer.content) == BIG


def test_a_target_that_is_down_is_a_502_and_a_slow_one_a_504_in_the_problem_shape(target):
    _, root = target
    with proxying(f"http://127.0.0.1:{free_port()}/v3") as proxy:
        down = httpx.get(f"{proxy}/v3/accounts")
    assert down.status_code == 502 and down.headers["content-type"] == "application/problem+json"
    assert down.json()["title"] == "Bad Gateway" and "cannot be reached" in down.json()["detail"]
    with proxying(f"{root}/sandbox/v3", read_timeout_s=0.2) as proxy:
        slow = httpx.get(f"{proxy}/v3/stall", timeout=30)
    assert (slow.status_code, slow.json()["status"]) == (504, 504)
    assert "did not answer within 0.2 s" in slow.json()["detail"]


def test_a_path_outside_the_api_is_not_forwarded_and_a_browsers_preflight_is_answered(target):
    recording, root = target
    with proxying(f"{root}/sandbox/v3") as proxy:
        outside = httpx.get(f"{proxy}/v9/anything")
        preflight = httpx.options(
            f"{proxy}/v3/accounts",
            headers={"Origin": "http://app.test", "Access-Control-Request-Method": "POST"},
        )
    assert outside.status_code == 404 and "/v3" in outside.json()["detail"]
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "http://app.test")
    assert recording.seen == []


def test_the_command_proxies_our_own_mock_and_its_answers_are_the_mocks(tmp_path):
    """`refund-mock proxy` in front of the mock, with the sandbox's credentials mapped."""
    with serve(MockConfig()) as mock:
        port = free_port()
        log = (tmp_path / "proxy.log").open("w")
        command = [
            sys.executable,
            "-m",
            "mock_server",
            "proxy",
            "--api",
            "marqeta",
            "--target",
            f"{mock.root}/v3",
            "--port",
            str(port),
            "--target-auth",
            ":".join(DEMO_AUTH),
        ]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ},
        )
        try:
            proxy = f"http://127.0.0.1:{port}"
            wait_until_serving(f"{proxy}/v9/ready", process)
            body = {
                "token": "via-proxy",
                "method": "ACH",
                "type": "CREDIT_BALANCE_REFUND",
                "amount": 5,
            }
            account = "/v3/accounts/demo_account_credit_balance"
            made = httpx.post(f"{proxy}{account}/refunds", json=body, auth=("app", "whatever"))
            assert made.status_code == 201, made.text
            direct = httpx.get(f"{mock.root}{account}/refunds/via-proxy", auth=DEMO_AUTH)
            through = httpx.get(f"{proxy}{account}/refunds/via-proxy", auth=("app", "whatever"))
            assert through.status_code == 200 and through.json() == direct.json()
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
    assert "refund contract kit proxy" in (tmp_path / "proxy.log").read_text()


def wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    """Until ``url`` gets any HTTP answer (the process must still run), for at most 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the proxy stopped"
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the proxy did not start within 30 s")
