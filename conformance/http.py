"""The behaviour tests' HTTP client: checks each response against the contract, keeps what it
sent so a failure can be reproduced with curl, and never lets credentials into the output."""

from __future__ import annotations

import functools
import itertools
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis

from conformance import spending
from conformance.checks.common import undocumented_success
from mock_server.http_clients import tls_context

REDACTED = "[redacted]"
# Request headers that carry credentials (a browser's recorded requests carry cookies too).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_SEQUENCE = itertools.count()  # orders exchanges across clients


@dataclass
class Exchange:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    status: int
    response_text: str
    sequence: int = field(default_factory=lambda: next(_SEQUENCE))


def curl(exchange: Exchange) -> str:
    """A curl command that repeats the request, with credentials redacted."""
    parts = ["curl", "-X", exchange.method]
    for name, value in exchange.headers.items():
        if name.lower() in {
            "host",
            "content-length",
            "accept-encoding",
            "connection",
            "user-agent",
        }:
            continue
        shown = REDACTED if name.lower() in SECRET_HEADERS else value
        parts += ["-H", f"{name}: {shown}"]
    if exchange.body:
        parts += ["-d", exchange.body.decode("utf-8", "replace")]
    parts.append(exchange.url)
    return shlex.join(parts)


def _sent_body(request: httpx.Request) -> bytes | None:
    try:
        return request.content or None
    except httpx.RequestNotRead:
        return None  # streamed: it was sent as it was made and is not kept


def _contract(contract: str | dict[str, Any]) -> Any:
    """A contract file's schema (loaded once: clients share it, it is only read), or the schema
    of a document already in hand (the mock's composed control contract)."""
    if isinstance(contract, dict):
        return schemathesis.openapi.from_dict(contract)
    return _contract_file(contract)


@functools.cache
def _contract_file(path: str) -> Any:
    return schemathesis.openapi.from_path(path)


@dataclass
class RateLimiter:
    """At most ``per_second`` calls a second, across threads."""

    per_second: int | None
    clock: Callable[[], float] = time.monotonic  # injected by tests, with ``sleep``
    sleep: Callable[[float], None] = time.sleep
    _next: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self) -> None:
        if not self.per_second:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + 1 / self.per_second
        self.sleep(max(0.0, start - now))


class UndocumentedStatus(AssertionError):
    """A success status the operation does not list, named as such in the report."""

    title = "Undocumented status"
    code = ""

    @property
    def message(self) -> str:
        return str(self)


class ContractClient:
    """HTTP client for one API that validates every response against its contract."""

    def __init__(
        self,
        base_url: str,
        contract_path: str | dict[str, Any],
        auth: tuple[str, str] | None,
        limiter: RateLimiter | None = None,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.http = httpx.Client(
            base_url=base_url,
            auth=auth,
            headers=headers,
            timeout=30,
            verify=tls_context(),
            transport=transport,
        )
        self.schema = _contract(contract_path)
        self.limiter = limiter or RateLimiter(None)
        self.exchanges: list[Exchange] = []

    def request(
        self, method: str, path: str, *, check: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; unless ``check`` is False, fail if the response breaks the contract."""
        self.limiter.wait()
        response = self.http.request(method, path, **kwargs)
        request = response.request
        self.exchanges.append(
            Exchange(
                method=request.method,
                url=str(request.url),
                headers=dict(request.headers),
                body=_sent_body(request),
                status=response.status_code,
                response_text=response.text[:2000],
            )
        )
        spending.record(method, path, response.status_code, _json_or_none(response))
        if check:
            operation = self.schema.find_operation_by_path(method, path.split("?")[0])
            assert operation is not None, f"{method} {path} is not an operation of the contract"
            undocumented = undocumented_success(operation.definition.raw, response.status_code)
            if undocumented is not None:
                raise UndocumentedStatus(undocumented)
            operation.validate_response(response)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    @property
    def last(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None

    def close(self) -> None:
        self.http.close()


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
