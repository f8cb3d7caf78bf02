"""`refund-mock proxy`: the vendor API's paths forwarded to a target as a transparent proxy
forwards them. A recording target here sees exactly what the proxy sends; our own mock behind
the proxy answers as it answers directly."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from connexion.json_schema import Draft4ResponseValidator, resolve_refs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mock_server.app import MockConfig, build_app
from mock_server.lifespan import lifespan_of
from mock_server.proxy.app import Contracted, proxy_app
from mock_server.proxy.asking import ask
from mock_server.proxy.checks import ResponseChecks, Violation, header_value
from mock_server.proxy.forwarding import DECODED_HEADER, Forwarder, Target, basic_authorization
from mock_server.proxy.report import ProxyReport
from mock_server.registry import control_contract, vendor
from mock_server.spec import load_contract
from tests.support import (
    DEMO_AUTH,
    ROOT,
    defective_target,
    free_port,
    in_process,
    serve,
    serve_app,
    with_mock,
)

BIG = 10 * 1024 * 1024


class RecordingTarget:
    """A target that answers what it was sent (and a few answers a sandbox may give)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.release = threading.Event()  # set from the test's thread: a thread-safe event

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        self.seen.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "raw_path": request.scope.get("raw_path"),
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

    async def deflated(self, request: Request) -> Response:
        coding = request.path_params["coding"]
        plain = json.dumps({"compressed": coding}).encode()
        body = {
            "zlib": zlib.compress(plain),  # deflate as RFC 9110 has it
            "raw": _raw_deflate(plain),  # as some servers send it
            "broken": b"not deflate at all",
        }[coding]
        return Response(
            body, media_type="application/json", headers={"Content-Encoding": "deflate"}
        )

    async def stall(self, request: Request) -> Response:
        await asyncio.to_thread(self.release.wait, 60)  # until the test ends
        return Response("late")

    async def brotli(self, request: Request) -> Response:  # a coding it was not asked for
        return Response(b"\x1b\x03\x00brotli-bytes", headers={"Content-Encoding": "br"})

    async def cookies(self, request: Request) -> Response:
        response = Response("{}", media_type="application/json")
        response.headers.append("Set-Cookie", "a=1")
        response.headers.append("Set-Cookie", "b=2")
        return response

    async def big(self, request: Request) -> Response:
        return Response(b"x" * BIG, media_type="application/octet-stream")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/sandbox/v3/gzip", self.gzipped),
                Route("/sandbox/v3/deflate/{coding}", self.deflated),
                Route("/sandbox/v3/stall", self.stall),
                Route("/sandbox/v3/big", self.big),
                Route("/sandbox/v3/br", self.brotli),
                Route("/sandbox/v3/cookies", self.cookies),
                Route(
                    "/sandbox/v3/{rest:path}", self.echo, methods=["GET", "POST", "PUT", "DELETE"]
                ),
            ]
        )


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


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


def test_deflate_is_decoded_wrapped_or_raw_one_that_does_not_decode_is_a_502_a_head_passes(
    target,
):
    _, root = target
    with proxying(f"{root}/sandbox/v3") as proxy:
        wrapped, raw, broken = (
            httpx.get(f"{proxy}/v3/deflate/{coding}") for coding in ("zlib", "raw", "broken")
        )
        head = httpx.head(f"{proxy}/v3/deflate/zlib")  # its headers, and no body to decode
    assert wrapped.json() == {"compressed": "zlib"} and raw.json() == {"compressed": "raw"}
    assert wrapped.headers[DECODED_HEADER] == raw.headers[DECODED_HEADER] == "deflate"
    assert (
        broken.status_code == 502 and broken.headers["content-type"] == "application/problem+json"
    )
    assert "sent deflate that does not decode" in broken.json()["detail"]
    assert (head.status_code, head.content) == (200, b"")


def test_a_cookie_the_target_sets_reaches_the_app_and_is_never_sent_for_it(target):
    """The proxy keeps no cookie jar: what the target sets for one app is that app's to send
    (or not), never added by the proxy to the requests of the next."""
    recording, root = target
    # By name: a cookie jar keeps no cookie of a bare IP address, so 127.0.0.1 would hide one.
    with proxying(f"{root.replace('127.0.0.1', 'localhost')}/sandbox/v3") as proxy:
        assert httpx.get(f"{proxy}/v3/cookies").headers.get_list("set-cookie") == ["a=1", "b=2"]
        httpx.get(f"{proxy}/v3/accounts")  # another app's request, without cookies
    assert "cookie" not in dict(recording.seen[0]["headers"])


class SpellingHandler(socketserver.StreamRequestHandler):
    """A server spelling its header names as many do (uvicorn writes them in lower case)."""

    def handle(self) -> None:
        while self.rfile.readline() not in (b"\r\n", b""):
            pass  # the request's head; it has no body
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Access-Control-Allow-Origin: *\r\nVary: Accept-Encoding\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        )


def test_the_targets_cors_headers_reach_a_browser_app_once_however_spelt():
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), SpellingHandler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with proxying(f"http://127.0.0.1:{server.server_address[1]}/v3") as proxy:
                answer = httpx.get(f"{proxy}/v3/cors", headers={"Origin": "http://app.example"})
        finally:
            server.shutdown()
    assert answer.headers.get_list("access-control-allow-origin") == ["*"]  # one: else refused
    assert len(answer.headers.get_list("vary")) == 1 and "Accept-Encoding" in answer.headers["vary"]


def test_a_header_value_goes_byte_for_byte_and_one_not_utf8_is_refused(target):
    recording, root = target
    with proxying(f"{root}/sandbox/v3") as proxy:
        noted = httpx.get(f"{proxy}/v3/accounts", headers={b"X-Note": "€ 5".encode()})
        refused = httpx.get(f"{proxy}/v3/accounts", headers={b"X-Note": b"\xff"})
    assert noted.status_code == 200
    assert dict(recording.seen[0]["headers"])["x-note"].encode("latin-1") == "€ 5".encode()
    assert refused.status_code == 400 and "not UTF-8" in refused.json()["detail"]
    assert len(recording.seen) == 1  # the refused one was not forwarded


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


@contextmanager
def proxy_command(target_url: str, log: Path, *options: str) -> Iterator[str]:
    """``python -m mock_server proxy --api marqeta --target URL OPTIONS`` on a free port; its
    root URL while it runs, stopped (SIGTERM, as a CI job stops it) after."""
    port = free_port()
    command = [sys.executable, "-m", "mock_server", "proxy", "--api", "marqeta"]
    command += ["--target", target_url, "--port", str(port), *options]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        root = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{root}/v9/ready", process)
        yield root
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def test_the_command_proxies_our_own_mock_and_its_answers_are_the_mocks(tmp_path):
    """`refund-mock proxy` in front of the mock, with the sandbox's credentials mapped."""
    log = tmp_path / "proxy.log"
    with (
        serve(MockConfig()) as mock,
        proxy_command(f"{mock.root}/v3", log, "--target-auth", ":".join(DEMO_AUTH)) as proxy,
    ):
        body = {"token": "via-proxy", "method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 5}
        made = httpx.post(f"{proxy}{ACCOUNT}/refunds", json=body, auth=("app", "whatever"))
        assert made.status_code == 201, made.text
        direct = httpx.get(f"{mock.root}{ACCOUNT}/refunds/via-proxy", auth=DEMO_AUTH)
        through = httpx.get(f"{proxy}{ACCOUNT}/refunds/via-proxy", auth=("app", "whatever"))
        assert through.status_code == 200 and through.json() == direct.json()
    assert "refund contract kit proxy" in log.read_text()


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


# Both directions held to the contract ------------------------------------------------------

ACCOUNT = "/v3/accounts/demo_account_credit_balance"
REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 5}


def contracted(target_url: str, strict: bool = False) -> Any:
    contract = load_contract("marqeta-credit.yaml")
    return serve_app(
        proxy_app(
            ["/v3", "/v3/credit"],
            Forwarder(Target(target_url)),
            Contracted.of(contract, strict),
            ProxyReport("marqeta", target_url),
        )
    )


def violations_of(answer: httpx.Response) -> list[dict[str, Any]]:
    said = answer.headers.get("x-mock-contract-violations")
    return json.loads(said) if said else []


def test_in_front_of_our_mock_nothing_is_flagged_and_a_bad_request_is_said_as_the_mock_says_it():
    with serve(MockConfig()) as mock, contracted(f"{mock.root}/v3") as proxy:
        made = httpx.post(f"{proxy}{ACCOUNT}/refunds", json=REFUND, auth=DEMO_AUTH)
        listed = httpx.get(f"{proxy}{ACCOUNT}/refunds", auth=DEMO_AUTH)
        assert (made.status_code, listed.status_code) == (201, 200)
        assert violations_of(made) == violations_of(listed) == []
        bad = httpx.post(
            f"{proxy}{ACCOUNT}/refunds", json={**REFUND, "amount": "x"}, auth=DEMO_AUTH
        )
    # Forwarded all the same (the mock refuses it itself), and flagged in the mock's words.
    assert (
        bad.status_code == 400
        and bad.json()["error_message"] == "'x' is not of type 'number' - 'amount'"
    )
    assert violations_of(bad) == [
        {
            "direction": "request",
            "location": "request",
            "rule": "request_validation",
            "message": "'x' is not of type 'number' - 'amount'",
        }
    ]


def test_each_answer_that_breaks_the_contract_is_flagged_under_the_suites_check_name():
    with serve_app(defective_target()) as target, contracted(f"{target}/v3") as proxy:
        made = httpx.post(f"{proxy}{ACCOUNT}/refunds", json=REFUND, auth=DEMO_AUTH)
        wrong_status = httpx.get(f"{proxy}{ACCOUNT}/refunds/r1", auth=DEMO_AUTH)
        text = httpx.get(f"{proxy}/v3/accounts", auth=DEMO_AUTH)
    assert made.status_code == 201 and made.json()["amount"] == "five"  # unchanged by default
    assert [(v["rule"], v["location"]) for v in violations_of(made)] == [
        ("response_schema_conformance", "body['amount']")
    ]
    assert [v["rule"] for v in violations_of(wrong_status)] == ["status_code_conformance"]
    assert "status 202" in violations_of(wrong_status)[0]["message"]
    assert [v["rule"] for v in violations_of(text)] == ["content_type_conformance"]
    with serve_app(defective_target()) as target, contracted(f"{target}/v3") as proxy:
        from_a_page = httpx.get(
            f"{proxy}/v3/accounts", auth=DEMO_AUTH, headers={"Origin": "http://app.test"}
        )
    exposed = from_a_page.headers["access-control-expose-headers"].lower()
    assert "x-mock-contract-violations" in exposed  # a browser app may read it


# The suite's planted defects that one exchange shows, and the rule each must break. The others
# need a sequence (a sort, is_more, a read-back) or the server's rules: the suite's to find.
ONE_EXCHANGE_DEFECTS = {
    "transition answered 200": "status_code_conformance",
    "wrong success status": "status_code_conformance",
    "missing required field": "response_schema_conformance",
    "wrong type": "response_schema_conformance",
    "wrong timestamp format": "response_schema_conformance",
    "enum value outside the contract": "response_schema_conformance",
    "error body in the wrong shape": "content_type_conformance",
    "wrong content type": "content_type_conformance",
}


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("name", sorted(ONE_EXCHANGE_DEFECTS))
def test_each_planted_response_defect_shows_under_its_rule(name, strict):
    """In front of the suite's planted-defect targets, a refund's life (create, read, list,
    move, and an over-refund): the defect is a violation of its rule, in both modes."""
    from tests.defects import DEFECTS, proxy

    defect = next(each for each in DEFECTS if each.name == name)
    with serve(MockConfig()) as mock:
        planted, _ = proxy(mock.root, defect)
        with serve_app(planted) as target, contracted(f"{target}/v3", strict) as root:
            made = httpx.post(f"{root}{ACCOUNT}/refunds", json=REFUND, auth=DEMO_AUTH)
            # Read from the mock itself: a defect may have dropped the token from the answer.
            newest = httpx.get(f"{mock.root}{ACCOUNT}/refunds", auth=DEMO_AUTH).json()["data"][0]
            refund = f"{root}{ACCOUNT}/refunds/{newest['token']}"
            answers = [
                made,
                httpx.get(refund, auth=DEMO_AUTH),
                httpx.get(f"{root}{ACCOUNT}/refunds", auth=DEMO_AUTH),
                httpx.post(
                    f"{refund}/transitions",
                    json={"token": f"t-{free_port()}", "status": "PROCESSING"},
                    auth=DEMO_AUTH,
                ),
                httpx.post(
                    f"{root}{ACCOUNT}/refunds", json={**REFUND, "amount": 10**9}, auth=DEMO_AUTH
                ),
            ]
            report = httpx.get(f"{root}/__mock__/proxy/report").json()
    rules = {v["rule"] for answer in answers for v in violations_of(answer)}
    assert ONE_EXCHANGE_DEFECTS[name] in rules, (name, rules)
    broken = {rule for entry in report["operations"].values() for rule in entry["violations"]}
    assert ONE_EXCHANGE_DEFECTS[name] in broken
    if strict:  # each answer that broke the contract became the proxy's 502
        assert 502 in {answer.status_code for answer in answers}
        assert all(
            answer.status_code == 502
            for answer in answers
            if any(v["direction"] == "response" for v in violations_of(answer))
        )


def test_strict_refuses_a_bad_request_unforwarded_and_replaces_a_bad_answer_by_a_502(target):
    recording, root = target
    with contracted(f"{root}/sandbox/v3", strict=True) as proxy:
        bad = httpx.post(
            f"{proxy}{ACCOUNT}/refunds", json={**REFUND, "amount": "x"}, auth=DEMO_AUTH
        )
    assert (bad.status_code, bad.json()["error_code"]) == (400, "400001")  # Marqeta's shape
    assert recording.seen == []  # never forwarded
    with (
        serve_app(defective_target()) as defective,
        contracted(f"{defective}/v3", strict=True) as proxy,
    ):
        replaced = httpx.post(f"{proxy}{ACCOUNT}/refunds", json=REFUND, auth=DEMO_AUTH)
    assert (
        replaced.status_code == 502
        and replaced.headers["content-type"] == "application/problem+json"
    )
    assert "response_schema_conformance" in replaced.json()["detail"]


def test_the_violations_header_stays_under_8_kib_saying_how_many_more_there_were():
    many = [
        Violation("response", f"body[{n}]", "response_schema_conformance", "x" * 200)
        for n in range(100)
    ]
    said = header_value(many)
    listed = json.loads(said)
    assert len(said) <= 8 * 1024 and said.isascii()
    assert listed[-1] == {"truncated": 100 - (len(listed) - 1)}
    assert header_value(many[:2]) == json.dumps([many[0].json(), many[1].json()])


def test_the_report_counts_exchanges_and_violations_per_operation_as_json_and_junit():
    with serve_app(defective_target()) as target, serve(MockConfig()) as mock:
        contract = load_contract("marqeta-credit.yaml")
        report = ProxyReport("marqeta", f"{target}/v3")
        app = proxy_app(["/v3"], Forwarder(Target(f"{target}/v3")), Contracted.of(contract), report)
        with serve_app(app) as proxy:
            for _ in range(2):
                httpx.post(f"{proxy}{ACCOUNT}/refunds", json=REFUND, auth=DEMO_AUTH)
            httpx.get(f"{proxy}/v3/accounts", auth=DEMO_AUTH)
            httpx.get(f"{proxy}/v3/nowhere", auth=DEMO_AUTH)
            seen = httpx.get(f"{proxy}/__mock__/proxy/report")
            junit = httpx.get(f"{proxy}/__mock__/proxy/report", params={"format": "junit"})
        not_here = httpx.get(f"{mock.root}/__mock__/proxy/report")
    schemas = resolve_refs(control_contract())["components"]["schemas"]
    Draft4ResponseValidator(schemas["ProxyReport"]).validate(seen.json())  # as the contract says
    body = seen.json()
    assert (body["exchanges"], body["broken"], body["violations"]) == (4, 4, 4)
    assert body["operations"]["createRefund"]["violations"] == {"response_schema_conformance": 2}
    assert body["operations"]["listAccounts"]["violations"] == {"content_type_conformance": 1}
    assert body["operations"]["(no operation)"]["violations"] == {"request_validation": 1}
    cases = ElementTree.fromstring(junit.content)
    assert cases.get("failures") == "3" and cases.get("tests") == "3"
    failure = cases.find("testcase[@name='createRefund']/failure")
    assert failure is not None and "2 of 2 exchanges" in (failure.get("message") or "")
    assert (not_here.status_code, not_here.json()["error_code"]) == (404, "404005")


def test_the_command_writes_the_junit_report_at_shutdown(tmp_path):
    junit = tmp_path / "proxy.xml"
    with (
        serve_app(defective_target()) as target,
        proxy_command(f"{target}/v3", tmp_path / "proxy.log", "--junit-xml", str(junit)) as proxy,
    ):
        httpx.get(f"{proxy}/v3/accounts", auth=DEMO_AUTH)
    written = ElementTree.parse(junit).getroot()
    assert written.get("failures") == "1"
    assert written.find("testcase[@name='listAccounts']/failure") is not None


def test_an_escaped_path_goes_as_spelt_and_cookies_and_unasked_codings_come_back_as_they_came(
    target,
):
    recording, root = target
    with proxying(f"{root}/sandbox/v3") as proxy:
        httpx.get(f"{proxy}/v3/accounts/a%3Fb%2Fc/refunds?q=%C3%A9")
        brotli = httpx.get(f"{proxy}/v3/br", headers={"Accept-Encoding": "br"})
        cookies = httpx.get(f"{proxy}/v3/cookies")
    sent = recording.seen[0]
    assert sent["raw_path"] == b"/sandbox/v3/accounts/a%3Fb%2Fc/refunds"  # one id, escapes kept
    assert sent["query"] == "q=%C3%A9"
    assert dict(sent["headers"])["accept-encoding"] == "gzip, deflate"  # what it can decode
    assert brotli.headers["content-encoding"] == "br" and DECODED_HEADER not in brotli.headers
    assert cookies.headers.get_list("set-cookie") == ["a=1", "b=2"]


def test_a_strict_refusal_carries_one_content_length_and_a_replaced_answer_its_violations(target):
    _, root = target
    with contracted(f"{root}/sandbox/v3", strict=True) as proxy:
        with httpx.Client() as client:
            refused = client.post(
                f"{proxy}{ACCOUNT}/refunds", json={**REFUND, "amount": "x"}, auth=DEMO_AUTH
            )
        assert len(refused.headers.get_list("content-length")) == 1
    with (
        serve_app(defective_target()) as defective,
        contracted(f"{defective}/v3", strict=True) as proxy,
    ):
        replaced = httpx.post(f"{proxy}{ACCOUNT}/refunds", json=REFUND, auth=DEMO_AUTH)
    assert replaced.status_code == 502
    assert [v["rule"] for v in violations_of(replaced)] == ["response_schema_conformance"]


def test_a_strict_replacement_counts_as_broken_not_as_unanswered():
    contract = load_contract("marqeta-credit.yaml")
    report = ProxyReport("marqeta", "defective")
    with serve_app(defective_target()) as target:
        strict = Contracted.of(contract, strict=True)
        app = proxy_app(["/v3"], Forwarder(Target(f"{target}/v3")), strict, report)
        with serve_app(app) as proxy:
            assert (
                httpx.post(f"{proxy}{ACCOUNT}/refunds", json=REFUND, auth=DEMO_AUTH).status_code
                == 502
            )
    entry = report.json()["operations"]["createRefund"]
    assert (entry["broken"], entry["unanswered"]) == (1, 0)


def test_a_target_that_never_answers_makes_the_junit_report_an_error_not_a_pass():
    contract = load_contract("marqeta-credit.yaml")
    report = ProxyReport("marqeta", "down")
    down = Forwarder(Target(f"http://127.0.0.1:{free_port()}/v3"))
    with serve_app(proxy_app(["/v3"], down, Contracted.of(contract), report)) as proxy:
        assert httpx.get(f"{proxy}/v3/accounts", auth=DEMO_AUTH).status_code == 502
        assert httpx.get(f"{proxy}/__mock__/proxy/report?format=xml").status_code == 400
    assert report.json()["unanswered"] == 1
    suite = ElementTree.fromstring(report.junit())
    assert (suite.get("errors"), suite.get("failures")) == ("1", "0")
    assert suite.find("testcase[@name='listAccounts']/error") is not None


def test_an_exchange_breaking_two_rules_counts_once_among_the_broken():
    report = ProxyReport("marqeta", "t")
    two = [
        Violation("response", "header A", "response_headers_conformance", "missing"),
        Violation("response", "header B", "response_headers_conformance", "missing"),
    ]
    report.record("retrieveRefund", two)
    report.record("retrieveRefund", [])
    entry = report.json()["operations"]["retrieveRefund"]
    assert (entry["exchanges"], entry["broken"], entry["violations"]) == (
        2,
        1,
        {"response_headers_conformance": 2},
    )
    failure = ElementTree.fromstring(report.junit()).find("testcase/failure")
    assert failure is not None and (failure.get("message") or "").startswith("1 of 2 exchanges")


def test_each_exchange_is_journaled_with_its_violations_and_no_credentials():
    with serve_app(defective_target()) as target, with_mock(f"{target}/v3") as root:
        httpx.post(f"{root}{ACCOUNT}/refunds", json=REFUND, auth=DEMO_AUTH)
        httpx.post(f"{root}{ACCOUNT}/refunds", json={**REFUND, "amount": "x"}, auth=DEMO_AUTH)
        journal = httpx.get(f"{root}/__mock__/requests").json()["requests"]
        health = httpx.get(f"{root}/__mock__/health")  # the mock's control API, on the proxy
        contract = httpx.get(f"{root}/v3/openapi.json")  # ours, never the target's
    bad, made = journal  # newest first
    assert made["operation"] == "createRefund" and made["status"] == 201
    assert made["answered_by"] == "target"
    assert json.loads(made["request_body"]) == REFUND
    assert json.loads(made["response_body"])["amount"] == "five"  # the target's, unchanged
    assert [(v["rule"], v["location"]) for v in made["violations"]] == [
        ("response_schema_conformance", "body['amount']")
    ]
    # Forwarded all the same (not --strict): flagged, not refused.
    assert bad["refused"] is None and bad["answered_by"] == "target"
    assert bad["violations"][0] == {
        "direction": "request",
        "location": "request",
        "rule": "request_validation",
        "message": "'x' is not of type 'number' - 'amount'",
    }
    password = DEMO_AUTH[1]
    assert password not in json.dumps(journal)  # no header is kept, credentials least of all
    assert health.status_code == 200
    assert contract.json()["info"]["title"] == load_contract("marqeta-credit.yaml")["info"]["title"]


def _unimplemented_target() -> Starlette:
    """A sandbox that does not implement refunds yet: 501 to create, 405 to list; a refund it
    does not know is its 404."""

    async def not_implemented(request: Request) -> Response:
        return Response("{}", status_code=501, media_type="application/json")

    async def not_allowed(request: Request) -> Response:
        return Response("{}", status_code=405, media_type="application/json")

    async def unknown(request: Request) -> Response:
        body = {"error_code": "404001", "error_message": "Refund not found"}
        return Response(json.dumps(body), status_code=404, media_type="application/json")

    return Starlette(
        routes=[
            Route("/v3/accounts/{account}/refunds", not_implemented, methods=["POST"]),
            Route("/v3/accounts/{account}/refunds", not_allowed, methods=["GET"]),
            Route("/v3/accounts/{account}/refunds/{refund}", unknown),
        ]
    )


def test_with_fallback_the_mock_answers_what_the_target_does_not_implement_never_a_404():
    sandbox_auth = ("sandbox_app", "sandbox_secret")  # the target's, which the mock knows not
    with serve_app(_unimplemented_target()) as target:
        with with_mock(f"{target}/v3", fallback=True) as root:
            made = httpx.post(f"{root}{ACCOUNT}/refunds", json=REFUND, auth=sandbox_auth)
            listed = httpx.get(f"{root}{ACCOUNT}/refunds", auth=sandbox_auth)
            unknown = httpx.get(f"{root}{ACCOUNT}/refunds/nope", auth=sandbox_auth)
            journal = httpx.get(f"{root}/__mock__/requests").json()["requests"]
            report = httpx.get(f"{root}/__mock__/proxy/report").json()
            junit = ElementTree.fromstring(
                httpx.get(f"{root}/__mock__/proxy/report?format=junit").text
            )
            elsewhere = httpx.get(f"{root}/v1/marketplaces", auth=sandbox_auth)  # another API
        with with_mock(f"{target}/v3") as root:
            unhelped = httpx.post(f"{root}{ACCOUNT}/refunds", json=REFUND, auth=sandbox_auth)
    assert made.status_code == 201 and made.headers["x-mock-proxy-fallback"] == "mock"
    assert made.json()["amount"] == 5 and made.json()["status"] == "PENDING"
    assert listed.status_code == 200 and listed.json()["data"][0]["token"] == made.json()["token"]
    assert violations_of(made) == violations_of(listed) == []  # the mock keeps to the contract
    assert unknown.status_code == 404 and "x-mock-proxy-fallback" not in unknown.headers
    assert [entry["answered_by"] for entry in journal] == ["target", "mock", "mock"]
    # Not the target's conformance: counted apart, and no verdict on what it does not do.
    assert (report["fallback"], report["violations"]) == (2, 0)
    assert report["operations"]["createRefund"]["fallback"] == 1
    skipped = {
        case.get("name") for case in junit.iter("testcase") if case.find("skipped") is not None
    }
    assert skipped == {"createRefund", "listRefunds"}
    assert elsewhere.status_code == 404  # the mock inside serves no other API through the proxy
    assert unhelped.status_code == 501  # off by default: the target's answer, as it came
    assert "x-mock-proxy-fallback" not in unhelped.headers


def test_the_suite_takes_the_proxy_for_the_target_it_fronts_not_for_the_mock():
    """The proxy serves a mock's control API for its dashboard; a conformance run through it
    must still test the target behind it, with setup data, and never make its own data in the
    mock inside."""
    from conformance.target import PROXY_REPORT, find_mock_control
    from mock_server.proxy.app import REPORT_PATH

    assert PROXY_REPORT == REPORT_PATH  # the suite's copy of the path (it loads no proxy code)
    with serve(MockConfig()) as mock, with_mock(f"{mock.root}/v3") as root:
        assert find_mock_control(f"{mock.root}/v3", "marqeta") is not None
        assert find_mock_control(f"{root}/v3", "marqeta") is None


def test_the_environments_proxy_is_used_for_the_target_unless_no_proxy_names_it(monkeypatch):
    """As curl does: a sandbox behind a company's outbound proxy is reached through it."""
    monkeypatch.setenv("HTTPS_PROXY", "http://outbound.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal.example")
    for name in ("https_proxy", "no_proxy", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert Forwarder(Target("https://sandbox.example/v3"))._through == (
        "http://outbound.example:3128"
    )
    assert Forwarder(Target("https://api.internal.example/v3"))._through is None
    assert Forwarder(Target("http://sandbox.example/v3"))._through is None  # no HTTP_PROXY
    monkeypatch.setenv("ALL_PROXY", "outbound.example:3128")  # curl's spelling, no scheme
    assert Forwarder(Target("http://sandbox.example/v3"))._through == (
        "http://outbound.example:3128"
    )


MP = "/v1/marketplaces/TEST-MP1"
# Requests each vendor's contract refuses before any rule runs: a path it does not serve, a
# method its path does not take, no credentials, a body of the wrong type, one not JSON, a
# query parameter of the wrong type.
REFUSED = {
    "marqeta": [
        ("GET", "/v3/nowhere", b"", True),
        ("DELETE", "/v3/accounts", b"", True),
        ("GET", "/v3/accounts", b"", False),
        ("POST", f"{ACCOUNT}/refunds", json.dumps({**REFUND, "amount": "x"}).encode(), True),
        ("POST", f"{ACCOUNT}/refunds", b"{not json", True),
        ("GET", "/v3/accounts?count=x", b"", True),
    ],
    "balanced": [
        ("GET", "/v1/nowhere", b"", True),
        ("DELETE", f"{MP}/refunds", b"", True),
        ("GET", f"{MP}/refunds", b"", False),
        ("POST", f"{MP}/refunds", b'{"debit_uri": 5}', True),
        ("POST", f"{MP}/refunds", b"{not json", True),
        ("POST", f"{MP}/debits/WD1/refunds", b"[1]", True),  # a body it need not have
        ("GET", f"{MP}/refunds?limit=x", b"", True),
    ],
}


@pytest.mark.parametrize("api", sorted(REFUSED))
def test_the_judge_refuses_each_request_as_the_mock_itself_answers_it(api):
    """The judge keeps only the layers of the mock that judge a request: what it answers must
    still be the mock's own answer, status, body and Allow header alike."""
    contract = load_contract(vendor(api).contract_file)
    judge = Contracted.of(contract).judge
    mock = build_app(MockConfig())
    user, password = vendor(api).credentials.demo.pairs[0]
    credentials = [(b"authorization", basic_authorization(user, password).encode())]

    async def both(method: str, target: str, body: bytes, signed: bool) -> tuple[Any, Any]:
        path, _, query = target.partition("?")
        headers = [(b"content-type", b"application/json"), *(credentials if signed else [])]
        if body:  # as a client sends it: without a length, Connexion reads no body
            headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 1),
        }
        judged = await judge.judge(scope, body)
        answered, _ = await ask(mock.asgi, scope, body)
        return judged, answered

    async def all_of_them() -> list[tuple[Any, Any]]:
        async with lifespan_of(mock.asgi):
            return [await both(*request) for request in REFUSED[api]]

    for (judged, answered), request in zip(asyncio.run(all_of_them()), REFUSED[api], strict=True):
        assert judged.refusal, request  # refused, and saying why
        assert (judged.status, _without_request_id(judged.body)) == (
            answered.status,
            _without_request_id(answered.body),
        ), request
        allow = [value for name, value in answered.headers if name.lower() == "allow"]
        assert [value for name, value in judged.headers if name.lower() == "allow"] == allow


def _without_request_id(body: bytes) -> Any:
    """An error body with Balanced's per-request id (``OHM`` and 32 hex digits) blanked."""
    return json.loads(re.sub(rb"OHM[0-9a-f]{32}", b"OHM", body))


# What the mock serves, by operation: answers to break, field by field, for the check below.
SERVED = {
    "marqeta": [
        ("listAccounts", "/v3/accounts"),
        ("retrieveAccount", "/v3/accounts/demo_account_credit_balance"),
        ("listPaymentSources", "/v3/accounts/demo_account_credit_balance/paymentsources"),
    ],
    "balanced": [
        ("listMarketplaces", "/v1/marketplaces"),
        ("listDebits", "/v1/marketplaces/TEST-MPdemo/debits"),
        ("listRefunds", "/v1/marketplaces/TEST-MPdemo/refunds"),
    ],
}


def _broken_ways(document: Any) -> Iterator[Any]:
    """``document`` broken at each place in turn: a value nulled, of another type, or left
    out, and an object given a member it does not have."""
    if isinstance(document, dict):
        yield {**document, "not_in_the_contract": 1}
        for key, value in document.items():
            others = {k: v for k, v in document.items() if k != key}
            yield others
            replacements: list[Any] = [None, "x", 12.5, [], {}, "2026-13-45T25:61:00Z"]
            for replacement in replacements:
                yield {**document, key: replacement}
            for broken in _broken_ways(value):
                yield {**document, key: broken}
    elif isinstance(document, list) and document:
        for broken in _broken_ways(document[0]):
            yield [broken, *document[1:]]


@pytest.mark.parametrize("api", sorted(SERVED))
def test_the_compiled_answer_check_accepts_nothing_the_mocks_own_validator_refuses(api):
    """The proxy checks answers with a compiled validator and asks Connexion's (the mock's own)
    only when that one refuses: it must never pass an answer Connexion's would refuse."""
    served = vendor(api)
    checks = ResponseChecks(load_contract(served.contract_file))
    user, password = served.credentials.demo.pairs[0]
    tried = refused = 0
    with in_process(MockConfig()) as mock, mock.client(auth=(user, password)) as client:
        for operation_id, path in SERVED[api]:
            answer = client.get(path)
            assert answer.status_code == 200, answer.text
            compiled = checks._compiled_validator(operation_id, "200", "application/json")
            own = checks._validator(operation_id, "200", "application/json")
            assert compiled is not None and compiled.is_valid(answer.json())
            for broken in _broken_ways(answer.json()):
                tried += 1
                if not compiled.is_valid(broken):
                    refused += 1
                    continue
                assert not list(own.iter_errors(broken)), (operation_id, broken)
    assert tried > 300 and refused > tried // 4, (tried, refused)  # many refused
