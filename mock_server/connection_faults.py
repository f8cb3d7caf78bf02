"""Connection faults: what an app's resilience code is about beside error statuses. Asked for per
request (``Prefer: fault=reset``) or set on an operation through the control API (a fault's
``connection``, or ``next`` entries naming one), and done here, the app's outermost layer, to the
answer on its way out:

- ``reset``: the connection is reset (TCP RST) before any answer; nothing was done.
- ``empty``: the connection is closed before any answer; nothing was done.
- ``malformed-json``: a 200 whose JSON body does not parse; nothing was done.
- ``reset-mid-body``: the mock's answer starts, and the connection is reset halfway through its
  body; the request was carried out (as when a network drops an answer).
- ``truncated``: the answer's headers promise its whole body, half of it comes, and the
  connection is closed; the request was carried out. (An answer without a body, a 204, is cut
  before anything of it: ``truncated`` is then a clean close.)
- ``slow``: the whole answer, its body in ``SLOW_CHUNKS`` parts ``SLOW_INTERVAL_S`` apart.

Resetting and closing need the connection itself: uvicorn's (which ``refund-mock`` and the pytest
fixture run) is found through its ``send``; under another server those faults end the answer
with an error instead.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.exchange import Exchange, exchange

Sleep = Callable[[float], Awaitable[None]]

# The faults in which the mock does nothing: the answer is replaced whole.
ANSWERING_NOTHING = frozenset({"reset", "empty", "malformed-json"})
# The faults that cut or slow down the mock's own answer.
CUTTING_THE_ANSWER = frozenset({"reset-mid-body", "truncated", "slow"})
CONNECTION_FAULTS = ANSWERING_NOTHING | CUTTING_THE_ANSWER
MALFORMED = b"{'refund': 'a body in single quotes, which is not JSON'"
MALFORMED_STATUS = 200  # a success that does not parse: what a broken gateway may send
SLOW_CHUNKS = 8
SLOW_INTERVAL_S = 0.5


class ConnectionFaulted(Exception):
    """The request is answered by a connection fault alone: no rule runs, nothing changes."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class ConnectionFaultMiddleware:
    """The app's outermost layer: starts each exchange, and does its connection fault (set
    inside, by ``Forcing``, before any answer) to the answer the app gives."""

    def __init__(self, app: ASGIApp, sleep: Sleep = asyncio.sleep) -> None:
        self.app = app
        self.sleep = sleep  # injected: tests check the pacing asked for, not the time taken

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with exchange(scope) as started:
            held: list[Message] = []

            async def sending(message: Message) -> None:
                if started.connection_fault is None:
                    await send(message)
                else:
                    held.append(message)  # the whole answer, to be cut or replaced

            await self.app(scope, receive, sending)
            if started.connection_fault is not None:
                await self._fault(started, held, send)

    async def _fault(self, started: Exchange, held: list[Message], send: Send) -> None:
        kind = started.connection_fault
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        connection = _Connection(send)
        if kind == "reset" or start is None:
            await connection.reset()
        elif kind == "empty":
            await connection.close()
        elif kind == "malformed-json":
            await send(_start(start, MALFORMED_STATUS, len(MALFORMED)))
            await send({"type": "http.response.body", "body": MALFORMED})
        elif kind == "reset-mid-body":
            await send(start)
            await send(_more(delivered(kind, body)))
            await connection.reset()
        elif kind == "truncated":
            await send(start)  # its Content-Length is the whole body's
            await send(_more(delivered(kind, body)))
            await connection.close()
        elif kind == "slow":
            await send(start)
            size = -(-len(body) // SLOW_CHUNKS) or 1
            parts = [body[at : at + size] for at in range(0, len(body), size)] or [b""]
            for number, part in enumerate(parts):
                if number:
                    await self.sleep(SLOW_INTERVAL_S)
                last = number == len(parts) - 1
                await send({"type": "http.response.body", "body": part, "more_body": not last})


def status_seen(kind: str | None, status: int) -> int | None:
    """The status the client gets of an answer ``status`` under the connection fault ``kind``:
    none when it gets no answer at all."""
    if kind in ("reset", "empty"):
        return None
    return MALFORMED_STATUS if kind == "malformed-json" else status


def delivered(kind: str | None, body: bytes) -> bytes | None:
    """What of an answer's ``body`` the client gets under the connection fault ``kind``: all of
    it, the first half of it (a cut answer; an answer without a body is cut before anything),
    the malformed body, or nothing at all (None)."""
    if kind in ("reset", "empty"):
        return None
    if kind == "malformed-json":
        return MALFORMED
    if kind in ("reset-mid-body", "truncated"):
        return body[: len(body) // 2]
    return body


def _more(part: bytes | None) -> Message:
    """A part of an answer's body, more to come (it never does)."""
    return {"type": "http.response.body", "body": part or b"", "more_body": True}


def _start(start: Message, status: int, length: int) -> Message:
    """``start`` with another status and a Content-Length (its other headers, CORS's included,
    kept so that a browser app can read what comes)."""
    headers = [
        (name, value)
        for name, value in start.get("headers", [])
        if name.lower() not in (b"content-length", b"content-type")
    ]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    return {"type": "http.response.start", "status": status, "headers": headers}


class _Connection:
    """The client's connection, as uvicorn holds it (its ``send`` is a method of the exchange,
    which holds the transport)."""

    def __init__(self, send: Send) -> None:
        self.transport: Any = getattr(getattr(send, "__self__", None), "transport", None)

    async def reset(self) -> None:
        """A TCP reset: the socket closed at once with no linger, whatever is unsent dropped."""
        if self.transport is None:
            raise RuntimeError("a connection fault needs uvicorn's connection (refund-mock)")
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
        await asyncio.sleep(0)  # uvicorn learns the connection is gone: no answer owed

    async def close(self) -> None:
        """An orderly close (FIN) once what was sent is written."""
        if self.transport is None:
            raise RuntimeError("a connection fault needs uvicorn's connection (refund-mock)")
        self.transport.close()
        await asyncio.sleep(0)
