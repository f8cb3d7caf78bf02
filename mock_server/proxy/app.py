"""The proxy as an ASGI app: a vendor API's base paths (its contract's servers) forwarded to the
target, a browser app's CORS preflights answered here, anything else a 404 in the problem
shape.

Each request is judged against the contract before it goes (the mock's request validation),
and each answer after it comes (the suite's response checks). By default the client gets the
target's answer unchanged, plus ``X-Mock-Contract-Violations`` when either broke the contract;
``strict``, an invalid request is answered as the mock answers it (the vendor's error shape)
without being forwarded, and an invalid answer is replaced by a 502 naming its violations."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.app import MockApp
from mock_server.control.handlers import CONTROL_PATH
from mock_server.control.journal import JournalMiddleware, page_beside
from mock_server.domain import DomainError
from mock_server.exchange import current as current_exchange
from mock_server.exchange import exchange
from mock_server.lifespan import lifespan_of
from mock_server.proxy.asking import ask
from mock_server.proxy.checks import REQUEST, ResponseChecks, Violation, header_value
from mock_server.proxy.forwarding import DECODED_HEADER, Answer, Forwarder, kept, problem
from mock_server.proxy.judging import RequestJudge
from mock_server.proxy.recording import Recording
from mock_server.proxy.report import ProxyReport
from mock_server.spec import Contract

LOG = logging.getLogger("mock_server.proxy")
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # a request body beyond this is refused, not forwarded
REPORT_PATH = f"{CONTROL_PATH}/proxy/report"
VIOLATIONS_HEADER = "x-mock-contract-violations"
FALLBACK_HEADER = "x-mock-proxy-fallback"  # the answer is the embedded mock's (--fallback mock)
# A target's "I do not do this" (never 404: that is a real answer about a resource).
NOT_IMPLEMENTED = frozenset({501, 405})


@dataclass(frozen=True)
class Contracted:
    """The contract the proxy holds both directions to."""

    judge: RequestJudge
    checks: ResponseChecks
    strict: bool = False

    @staticmethod
    def of(contract: Contract, strict: bool = False) -> Contracted:
        paths = [server["url"] for server in contract["servers"]]
        return Contracted(RequestJudge(contract, paths), ResponseChecks(contract), strict)


class Forwarding:
    """The proxy: the API's paths forwarded (journaled, when a mock is embedded), its report at
    ``REPORT_PATH``, the embedded mock's control API (its dashboard and journal) and the pages
    beside the API (the contract, Swagger UI); anything else a 404."""

    def __init__(
        self,
        base_paths: Sequence[str],
        forwarder: Forwarder,
        contract: Contracted | None = None,
        report: ProxyReport | None = None,
        junit_xml: Path | None = None,
        mock: MockApp | None = None,
        fallback_authorization: str | None = None,
        recording: Recording | None = None,
    ) -> None:
        # Longest first: /v3/credit/... must not be taken for /v3 + /credit/...
        self.base_paths = sorted(base_paths, key=len, reverse=True)
        self.forwarder = forwarder
        self.contract = contract
        self.report = report
        self.junit_xml = junit_xml  # the report, written at shutdown
        self.mock = mock  # the journal, the dashboard and the control API; the fallback's answers
        # With it, the mock answers what the target does not implement, as a client it trusts:
        # the target, not the mock, judges the app's credentials.
        self.fallback_authorization = fallback_authorization if mock is not None else None
        self.recording = recording  # written at shutdown
        self._api: ASGIApp = (
            JournalMiddleware(self._forwarded, mock.journal, self.base_paths)
            if mock is not None and mock.journal.size > 0
            else self._forwarded
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        base = self._base(path)
        if path == REPORT_PATH and self.report is not None:
            await _send(self._report(scope), send)
        elif self.mock is not None and self._the_mocks(base, path):
            await self.mock.serving(scope, receive, send)
        elif base is not None:
            with exchange(scope):
                await self._api(scope, receive, send)
        else:
            served = ", ".join(self.base_paths)
            await _send(
                problem(404, "Not Found", f"No API is proxied at {path}: try {served}"), send
            )

    @staticmethod
    def _the_mocks(base: str | None, path: str) -> bool:
        """What the mock inside serves: its control API (the dashboard, the journal), and the
        contract and Swagger UI beside the API (ours, not the target's)."""
        control = path == CONTROL_PATH or path.startswith(CONTROL_PATH + "/")
        return control or (base is not None and page_beside(base, path))

    def _base(self, path: str) -> str | None:
        return next((b for b in self.base_paths if path == b or path.startswith(b + "/")), None)

    async def _forwarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        base = self._base(scope["path"])
        assert base is not None
        body = await _body(receive)
        if body is None:
            answer = problem(
                413, "Payload Too Large", f"Request body is over {MAX_REQUEST_BYTES} bytes"
            )
        else:
            answer = await self._exchange(scope, _below(scope, base), body)
        said = current_exchange()
        if said is not None and said.answered_by is None:
            said.answered_by = "target" if answer.from_target else "proxy"
        await _send(answer, send)

    async def _exchange(self, scope: Scope, path: bytes, body: bytes) -> Answer:
        """The answer the client gets: the target's (or the judge's, strict; or the mock's, for
        what the target does not implement), with what broke the contract in
        X-Mock-Contract-Violations."""
        violations: list[Violation] = []
        judgement = None
        if self.contract is not None:
            judgement = await self.contract.judge.judge(scope, body)
            if judgement.refusal is not None:
                violations.append(Violation("request", "request", REQUEST, judgement.refusal))
                if self.contract.strict:  # as the mock answers it, never forwarded
                    refused = kept(judgement.headers)
                    self._record(judgement.operation, violations)
                    said = current_exchange()
                    if said is not None:  # refused by the contract: the target never saw it
                        said.refused = judgement.refusal
                    own = Answer(judgement.status, refused, judgement.body, from_target=False)
                    return _marked(own, violations)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        answer = await self.forwarder.forward(
            scope["method"], path, scope["query_string"], headers, body
        )
        answered = answer.from_target  # before strict replaces a bad answer by a 502 of its own
        operation = judgement.operation if judgement is not None else None
        fell_back = (
            self.fallback_authorization is not None
            and operation is not None  # an operation of the contract, not a stray path
            and answered
            and answer.status in NOT_IMPLEMENTED
        )
        if fell_back:  # the mock's answer keeps to the contract; the target's 501 says nothing
            answer = await self._from_the_mock(scope, body)
        elif self.contract is not None and judgement is not None and answered:
            if operation is not None:
                got = {name.lower(): value for name, value in answer.headers}
                violations += self.contract.checks.violations(
                    operation, answer.status, got, answer.body
                )
            broken = [v for v in violations if v.direction == "response"]
            if broken and self.contract.strict:
                how = "; ".join(f"{v.rule} at {v.location}: {v.message}" for v in broken)
                answer = problem(
                    502, "Bad Gateway", f"the target's answer breaks the contract: {how}"
                )
        if judgement is not None:
            self._record(operation, violations, answered, fell_back)
        if (
            self.recording is not None
            and operation is not None
            and answered
            and not fell_back  # the mock's demo data, not the target's
            and not violations
            and 200 <= answer.status < 300
        ):
            self.recording.saw(operation, answer.status, answer.body)
        return _marked(answer, violations)

    async def _from_the_mock(self, scope: Scope, body: bytes) -> Answer:
        """The embedded mock's answer to the request (the target answered 501 or 405: it does
        not implement the operation), marked as the mock's."""
        assert self.mock is not None and self.fallback_authorization is not None
        asked = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
        asked.append((b"authorization", self.fallback_authorization.encode("latin-1")))
        said = current_exchange()
        if said is not None:
            said.answered_by = "mock"
        answer, inner = await ask(self.mock.asgi, {**scope, "headers": asked}, body)
        if inner.connection_fault is not None:  # set through the control API on the mock inside
            return problem(
                502,
                "Bad Gateway",
                f"the mock inside is set to fault the connection ({inner.connection_fault})",
            )
        headers = [*kept(answer.headers), (FALLBACK_HEADER, "mock")]
        return Answer(answer.status, headers, answer.body, from_target=False)

    def _record(
        self,
        operation: str | None,
        violations: list[Violation],
        answered: bool = True,
        fell_back: bool = False,
    ) -> None:
        said = current_exchange()
        if said is not None:
            said.judged_operation = operation
            said.violations = [violation.json() for violation in violations] or None
        if self.report is not None:
            self.report.record(operation, violations, answered, fell_back)

    def _report(self, scope: Scope) -> Answer:
        assert self.report is not None
        if scope["method"] != "GET":
            return problem(405, "Method Not Allowed", "The report is read with GET")
        asked = parse_qs(scope["query_string"].decode("latin-1")).get("format", ["json"])
        if asked == ["junit"]:
            junit = self.report.junit().encode()
            return Answer(200, [("content-type", "application/xml")], junit, from_target=False)
        if asked != ["json"]:
            return problem(400, "Bad Request", f"format={asked[-1]!r}: json or junit")
        body = json.dumps(self.report.json()).encode()
        return Answer(200, [("content-type", "application/json")], body, from_target=False)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        async with contextlib.AsyncExitStack() as running:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if self.mock is not None:
                        await running.enter_async_context(lifespan_of(self.mock.asgi))
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.forwarder.close()
                    self._write_at_shutdown()
                    break
        await send({"type": "lifespan.shutdown.complete"})

    def _write_at_shutdown(self) -> None:
        """The JUnit report and the recording, each on its own: one failing keeps the other."""
        if self.junit_xml is not None and self.report is not None:
            try:
                self.junit_xml.write_text(self.report.junit(), encoding="utf-8")
            except OSError as exc:
                LOG.error("--junit-xml %s not written: %s", self.junit_xml, exc)
        if self.recording is not None:
            # A recorder bug (a record the final check refuses) must not lose the report.
            try:
                self.recording.write()
            except (OSError, ValueError, DomainError) as exc:
                LOG.error("--record %s not written: %r", self.recording.path, exc)


def proxy_app(
    base_paths: Sequence[str],
    forwarder: Forwarder,
    contract: Contracted | None = None,
    report: ProxyReport | None = None,
    junit_xml: Path | None = None,
    mock: MockApp | None = None,
    fallback_authorization: str | None = None,
    recording: Recording | None = None,
) -> ASGIApp:
    """The proxy, open to browser apps on any origin (as the mock is), which may read the
    headers the proxy adds."""
    return CORSMiddleware(
        Forwarding(
            base_paths,
            forwarder,
            contract,
            report,
            junit_xml,
            mock,
            fallback_authorization,
            recording,
        ),
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[DECODED_HEADER, VIOLATIONS_HEADER, FALLBACK_HEADER],
    )


def _marked(answer: Answer, violations: list[Violation]) -> Answer:
    """``answer`` with X-Mock-Contract-Violations when there are any."""
    if not violations:
        return answer
    headers = [*answer.headers, (VIOLATIONS_HEADER, header_value(violations))]
    return Answer(answer.status, headers, answer.body, answer.from_target)


def _below(scope: Scope, base: str) -> bytes:
    """The request's path below ``base``, as the client spelt it (percent-escapes kept: an
    escaped ``/`` or ``?`` in an id stays one)."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    if raw.startswith(base.encode()):
        return raw[len(base) :]
    return quote(scope["path"][len(base) :]).encode()  # base spelt with escapes: rare


async def _body(receive: Receive) -> bytes | None:
    """The request's whole body, None when it is over ``MAX_REQUEST_BYTES``."""
    parts: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(parts)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def _send(answer: Answer, send: Send) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
