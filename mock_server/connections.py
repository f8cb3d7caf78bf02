"""Connection hygiene: a client that connects and says nothing cannot hold the mock hostage.

uvicorn closes an idle keep-alive connection only after it has answered a first request, and
never times out one that sends its headers slowly (a slowloris). A shared mock holding a socket,
and a file descriptor, for every such client stops answering anyone once its descriptors run
out. This protocol adds two rules to uvicorn's own (httptools):

- **Headers in time.** From the first byte of a request (or from connecting) to the end of its
  headers, at most ``header_timeout`` seconds; then the connection is closed.
- **A cap, with room for newcomers.** At most ``max_connections`` at once. One more evicts the
  connection that has waited longest without a request in progress (idle or still sending
  headers); only when every connection is serving a request is the newcomer itself closed.

This is the one place that relies on uvicorn's protocol internals: the callbacks named below
(``connection_made``, ``on_message_begin``, ``on_headers_complete``, ``on_response_complete``,
``connection_lost``, ``send_400_response``), its ``url`` as read so far, and its shared
``connections`` set. ``tests/test_connections.py`` fails if
they change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# (path as far as it was read, message) -> (status, JSON body) in the vendor's error shape
MalformedAnswer = Callable[[str, str], tuple[int, bytes]]


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0  # seconds from a request's first byte to its last header
    keep_alive: float = 5.0  # seconds an idle connection is kept after an answer
    max_connections: int = 512  # open at once: well under a default 1,024 file descriptors


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a header deadline and an evicting connection cap."""

    limits = ConnectionLimits()  # set once per process by ``use_limits``
    answer_malformed: MalformedAnswer | None = None  # set once the app is built

    def send_400_response(self, msg: str) -> None:
        """A request the parser refuses (a request line over 64 KB, bad framing): uvicorn
        answers plain text; the vendor's error shape is what clients of the mock parse."""
        answer = type(self).answer_malformed
        if answer is None:
            super().send_400_response(msg)
            return
        path = (getattr(self, "url", None) or b"").decode("latin-1").split("?")[0]
        status, body = answer(path, f"The request could not be read: {msg}")
        head = f"HTTP/1.1 {status} Bad Request\r\ncontent-type: application/json\r\n"
        head += f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        self.transport.write(head.encode() + body)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_request = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._waiting_since = self.loop.time()
        self._start_header_timer()
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_timer()  # also after a keep-alive pause: its timer was just cancelled

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        self._in_request = True
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._in_request = False
        self._waiting_since = self.loop.time()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout, self._too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

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


def use_limits(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """The protocol class for uvicorn's ``http`` option, with these limits in this process."""
    GuardedHttpProtocol.limits = limits
    return GuardedHttpProtocol
