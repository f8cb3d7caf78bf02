"""Connection hygiene: a client that connects and says nothing cannot hold the mock hostage.

uvicorn closes an idle keep-alive connection only after it has answered a first request, and
never times out one that sends its headers slowly (a slowloris). A shared mock holding a socket,
and a file descriptor, for every such client stops answering anyone once its descriptors run
out. This protocol adds two rules to uvicorn's own (httptools):

- **Headers in time.** From the first byte of a request (or from connecting) to the end of its
  headers, at most ``header_timeout`` seconds; then the connection is closed.
- **Headers of a bounded size.** A request line and headers above ``max_header_bytes`` are
  answered 431 and the connection closed, before they are held in memory whole.
- **A body in time.** From the end of the headers to the end of the body, at most
  ``body_timeout`` seconds; then 408 and the connection is closed (a body dripped a byte at a
  time would otherwise hold its connection, and the app's request, for ever).
- **Shutting down answers what was sent.** On SIGTERM uvicorn closes idle keep-alive
  connections at once, dropping a request a client sent on one just then. Here they get
  ``SHUTDOWN_GRACE`` seconds: a request arriving meanwhile is answered (with
  ``Connection: close``), and the connections still idle are closed after it.
- **A cap, with room for newcomers.** At most ``max_connections`` at once. One more evicts the
  connection that has waited longest on its client (idle, or still sending headers or body);
  only when every connection is being answered is the newcomer itself closed.

This is the one place that relies on uvicorn's protocol internals: the callbacks named below
(``connection_made``, ``data_received``, ``on_message_begin``, ``on_headers_complete``,
``on_message_complete``, ``on_response_complete``, ``connection_lost``, ``send_400_response``,
``shutdown``),
its ``url`` as read so far, its ``cycle`` (``response_started``) and its shared ``connections``
set; and, for ``--workers``, the supervisor's ``terminate_all`` and ``sockets``.
``tests/test_connections.py`` fails if they change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

# (path as far as it was read, status, message) -> (status, media type, body): the error body
# of the API the path belongs to, or the neutral one
SHUTDOWN_GRACE = 1.0  # seconds an idle connection may still bring a request once stopping
EarlyAnswer = Callable[[str, int, str], tuple[int, str, bytes]]


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0  # seconds from a request's first byte to its last header
    keep_alive: float = 5.0  # seconds an idle connection is kept after an answer
    max_connections: int = 512  # open at once: well under a default 1,024 file descriptors
    body_timeout: float = 30.0  # seconds from a request's last header to the end of its body
    max_header_bytes: int = 256 * 1024  # request line and headers (browsers send a few KB)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with header and body deadlines, a header size limit and an
    evicting connection cap."""

    def __init__(
        self, *args: Any, limits: ConnectionLimits, answer_early: EarlyAnswer | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.answer_early = answer_early  # None: uvicorn's plain-text refusals

    def send_400_response(self, msg: str) -> None:
        """A request the parser refuses (a request line over 64 KB, bad framing): uvicorn
        answers plain text; the vendor's error shape is what clients of the mock parse."""
        if self.answer_early is None:
            super().send_400_response(msg)
            return
        self._refuse(400, f"The request could not be read: {msg}")

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` in the error shape of the path read so far, and close."""
        answer = self.answer_early
        path = (getattr(self, "url", None) or b"").decode("latin-1").split("?")[0]
        if answer is None:
            media_type, body = "text/plain; charset=utf-8", message.encode()
        else:
            status, media_type, body = answer(path, status, message)
        head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: {media_type}\r\n"
        head += f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        self.transport.write(head.encode() + body)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_request = False  # its request is whole and being answered
        self._reading_head = True
        self._head_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._waiting_since = self.loop.time()
        self._stopping = False
        self._start_header_timer()
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def data_received(self, data: bytes) -> None:
        was_reading_head = self._reading_head
        super().data_received(data)
        if was_reading_head and self._reading_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._stop_header_timer()
                self._refuse(
                    431,
                    f"The request line and headers are over {self.limits.max_header_bytes}"
                    " bytes, the mock's limit (--max-header-bytes)",
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._start_header_timer()  # also after a keep-alive pause: its timer was just cancelled

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        self._reading_head = False
        self._head_bytes = 0
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_too_slow)
        super().on_headers_complete()
        if self._stopping and self.cycle is not None:
            self.cycle.keep_alive = False  # answered, then closed: the server is stopping

    def shutdown(self) -> None:
        self._stopping = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.response_started:
            cycle.keep_alive = False  # its answer, still to come, says Connection: close
            return
        # Idle, or its answer under way without that header: closing at its end would race
        # the client's next request on the connection. That request is answered (with the
        # header) if it comes within the grace; a connection still idle then is closed.
        self.loop.call_later(SHUTDOWN_GRACE, self._close_if_idle)

    def _close_if_idle(self) -> None:
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
        else:
            self.cycle.keep_alive = False

    def on_message_complete(self) -> None:
        self._stop_body_timer()
        self._in_request = True
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._in_request = False
        self._waiting_since = self.loop.time()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        self._stop_body_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout, self._too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _stop_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        cycle = getattr(self, "cycle", None)
        if cycle is not None and cycle.response_started:
            self.transport.close()  # answered already (without reading the body): just close
            return
        self._refuse(
            408,
            f"The request body did not arrive within {self.limits.body_timeout:g} s of its"
            " headers (--body-timeout)",
        )

    def _make_room(self) -> None:
        waiting = [
            other
            for other in self.connections
            if isinstance(other, GuardedHttpProtocol)
            and other is not self
            and not other._in_request
            and not other.transport.is_closing()
        ]
        oldest = min(waiting, key=lambda other: other._waiting_since, default=self)
        oldest.transport.close()


@dataclass(frozen=True)
class GuardedHttp:
    """uvicorn's ``http`` option: makes each connection's protocol with these limits, refusing
    in the error shape ``answer_early`` gives (picklable: ``--workers`` send it to each)."""

    limits: ConnectionLimits
    answer_early: EarlyAnswer | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> GuardedHttpProtocol:
        return GuardedHttpProtocol(
            *args, limits=self.limits, answer_early=self.answer_early, **kwargs
        )


class WorkerSupervisor(Multiprocess):
    """uvicorn's supervisor of ``--workers`` processes, serving the socket bound before the app
    was built (so no connection made meanwhile is reset), which it stops listening on as soon
    as it is told to stop: a connection a client opens after an answer said
    ``Connection: close`` would otherwise wait in a backlog nobody accepts from, and be reset
    when the supervisor exits."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()
