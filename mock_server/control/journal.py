"""The request journal: the last N exchanges of each session with the vendor APIs, for a
developer to look at.

An ASGI middleware records each request under a vendor API's base path (not the control API,
which the dashboard polls, nor a browser's /favicon.ico): method, path, query, the operation it
was routed to, status, duration, session, both bodies up to ``BODY_LIMIT`` bytes (the
credentials left out), why the contract refused it and the connection fault it suffered; through
``refund-mock proxy``, also how either side broke the contract and who answered. Kept in the
process: with ``--workers N`` each worker journals what it served.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.connection_faults import delivered, status_seen
from mock_server.exchange import current as current_exchange
from mock_server.json_types import Json
from mock_server.sessions import SESSION_HEADER

BODY_LIMIT = 16 * 1024
SESSION_HEADER_BYTES = SESSION_HEADER.encode()  # ASGI headers are bytes


@dataclass(frozen=True)
class Entry:
    """One exchange as recorded: raw, since most are never read (an answer's time goes to what
    the client waits for); ``as_json`` writes it as ``GET /__mock__/requests`` shows it."""

    id: int
    at: float  # seconds since the epoch (UTC)
    method: str
    path: str
    query: str
    session: str | None
    operation: str | None  # the contract's operationId it was routed to
    status: int | None  # None: the client got no answer (a connection fault)
    duration_ms: float
    request_body: bytes | None  # the first BODY_LIMIT bytes
    response_body: bytes | None
    truncated: bool
    refused: str | None  # why the contract refused it (route, method, parameters, body, security)
    connection_fault: str | None
    # Through `refund-mock proxy`: how either side broke the contract, and who answered.
    violations: list[dict[str, str]] | None = None
    answered_by: str | None = None

    def as_json(self) -> dict[str, Any]:
        at = datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds")
        return {
            **asdict(self),
            "at": at.replace("+00:00", "Z"),
            "request_body": _text(self.request_body),
            "response_body": _text(self.response_body),
        }


def _text(body: bytes | None) -> str | None:
    return body.decode("utf-8", "replace") if body else None


@dataclass(frozen=True)
class Query:
    """Which entries a journal query asks for: each given field narrows it."""

    path: str | None = None  # a prefix
    status: int | None = None
    session: str | None = None
    operation: str | None = None
    refused: bool | None = None  # only those the contract refused (True), or only the others
    body: Json | None = None  # fields the request's JSON body has, with these values
    since: int = 0  # only entries newer than this id

    def matches(self, entry: Entry) -> bool:
        return (
            (self.path is None or entry.path.startswith(self.path))
            and (self.status is None or entry.status == self.status)
            and (self.operation is None or entry.operation == self.operation)
            and (self.refused is None or (entry.refused is not None) == self.refused)
            and (self.body is None or _has(_json(entry.request_body), self.body))
        )


def _json(text: bytes | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _has(found: Any, wanted: Any) -> bool:
    """Whether ``found`` has what ``wanted`` names: an object's fields (recursively), else the
    same value; a number matches an equal one (50 and 50.0)."""
    if isinstance(wanted, dict):
        return isinstance(found, dict) and all(
            key in found and _has(found[key], value) for key, value in wanted.items()
        )
    if isinstance(wanted, bool) or isinstance(found, bool):
        return found is wanted
    return bool(found == wanted)


DEFAULT_BYTES = 64 * 1024 * 1024  # all sessions together; bodies are most of an entry
_ENTRY_OVERHEAD = 256  # bytes an entry costs beside its bodies (fields, the object)


def _cost(entry: Entry) -> int:
    bodies = (entry.request_body or b"", entry.response_body or b"", entry.path, entry.query)
    said = sum(len(text) for violation in entry.violations or () for text in violation.values())
    return _ENTRY_OVERHEAD + sum(len(text) for text in bodies) + said


class Journal:
    """The last ``size`` exchanges *of each session* (the default state's included), so one
    session's traffic (a conformance run's hundreds of requests) never evicts another's; all
    sessions together stay under ``max_bytes``, taken first from the session that holds most."""

    def __init__(self, size: int, max_bytes: int = DEFAULT_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._sessions: dict[str | None, deque[tuple[Entry, int]]] = {}  # entries, their costs
        self._bytes: dict[str | None, int] = {}
        self._total = 0  # the sum of _bytes, kept as entries come and go
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def record(self, **fields: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            entry = Entry(id=next(self._ids), **fields)
            cost = _cost(entry)
            kept = self._sessions.setdefault(entry.session, deque())
            kept.append((entry, cost))
            self._bytes[entry.session] = self._bytes.get(entry.session, 0) + cost
            self._total += cost
            if len(kept) > self.size:
                self._drop_oldest(entry.session)
            while self._total > self.max_bytes:
                self._drop_oldest(max(self._bytes, key=self._bytes.__getitem__))

    def _drop_oldest(self, session: str | None) -> None:
        kept = self._sessions[session]
        _, cost = kept.popleft()
        self._bytes[session] -= cost
        self._total -= cost
        if not kept:
            del self._sessions[session], self._bytes[session]

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._bytes.clear()
            self._total = 0

    def forget(self, session: str | None = None) -> None:
        """Drop the entries of a deleted session (of every named session, without a name): what
        a session did goes with it."""
        with self._lock:
            for name in [name for name in self._sessions if name is not None]:
                if session is None or name == session:
                    self._total -= self._bytes.pop(name)
                    del self._sessions[name]

    def entries(self, query: Query = Query(), limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` entries ``query`` asks for, newest first."""
        return self.search(query, limit)[0]

    def search(self, query: Query, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """The newest ``limit`` entries ``query`` asks for, newest first, and how many it asks
        for in all. ``since`` makes a poll cost what is new, not the whole journal."""
        with self._lock:
            chosen_sessions = (
                [self._sessions.get(query.session, deque())]
                if query.session is not None
                else list(self._sessions.values())
            )
            unseen = [
                [
                    entry
                    for entry, _ in itertools.takewhile(
                        lambda it: it[0].id > query.since, reversed(kept)
                    )
                ]
                for kept in chosen_sessions
            ]
        newest_first = heapq.merge(*unseen, key=lambda entry: -entry.id)
        chosen = [entry for entry in newest_first if query.matches(entry)]
        return [entry.as_json() for entry in chosen[:limit]], len(chosen)


class JournalMiddleware:
    def __init__(self, app: ASGIApp, journal: Journal, base_paths: list[str]) -> None:
        self.app = app
        self.journal = journal
        self.base_paths = tuple(base_paths)

    def _journaled(self, scope: Scope) -> bool:
        """A request to a vendor API: not a browser's CORS preflight, nor Swagger UI's files or
        the served contract, which would push the app's own requests out of view."""
        path = scope["path"]
        return scope["method"] != "OPTIONS" and any(
            (path == base or path.startswith(base + "/")) and not page_beside(base, path)
            for base in self.base_paths
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._journaled(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_body = _Capture()
        response_body = _Capture()
        status = 500  # what the client gets if the app fails before answering

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.add(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                response_body.add(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        finally:
            session = next((v for k, v in scope["headers"] if k == SESSION_HEADER_BYTES), None)
            exchange = current_exchange()
            fault = exchange.connection_fault if exchange else None
            answered: int | None = status
            if fault is not None:  # what the client got of the answer
                got = delivered(fault, response_body.whole())
                answered = status_seen(fault, status)
                response_body = _Capture()
                response_body.add(got or b"")
            self.journal.record(
                at=time.time(),
                method=scope["method"],
                path=scope["path"],
                query=scope["query_string"].decode("latin-1"),
                session=session.decode("latin-1") if session else None,
                operation=exchange.operation if exchange else None,
                status=answered,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                request_body=request_body.whole() or None,
                response_body=response_body.whole() or None,
                truncated=request_body.truncated or response_body.truncated,
                refused=exchange.refused if exchange else None,
                connection_fault=fault,
                violations=exchange.violations if exchange else None,
                answered_by=exchange.answered_by if exchange else None,
            )


def page_beside(base: str, path: str) -> bool:
    """Whether ``path`` is one of the pages the mock serves beside an API at ``base``."""
    rest = path[len(base) :]
    return rest in ("/openapi.json", "/openapi.yaml") or rest == "/ui" or rest.startswith("/ui/")


class _Capture:
    """The first ``BODY_LIMIT`` bytes of a body (headers, and so credentials, are never kept)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = BODY_LIMIT - self._size
        if len(chunk) > room:
            self.truncated = True
            chunk = chunk[:room]
        if chunk:
            self._parts.append(chunk)
            self._size += len(chunk)

    def whole(self) -> bytes:
        """What was kept of the body (all of it, up to ``BODY_LIMIT``): a copy, as long as the
        body (the answer's own bytes, orjson's, hold its whole working buffer)."""
        return bytes(memoryview(self._parts[0])) if len(self._parts) == 1 else b"".join(self._parts)
