"""The proxy as an ASGI app: a vendor API's base paths (its contract's servers) forwarded to the
target, a browser app's CORS preflights answered here, anything else a 404 in the problem
shape."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.proxy.forwarding import DECODED_HEADER, Answer, Forwarder, problem

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # a request body beyond this is refused, not forwarded


class Forwarding:
    def __init__(self, base_paths: Sequence[str], forwarder: Forwarder) -> None:
        # Longest first: /v3/credit/... must not be taken for /v3 + /credit/...
        self.base_paths = sorted(base_paths, key=len, reverse=True)
        self.forwarder = forwarder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        base = next((b for b in self.base_paths if path == b or path.startswith(b + "/")), None)
        if base is None:
            served = ", ".join(self.base_paths)
            answer = problem(404, "Not Found", f"No API is proxied at {path}: try {served}")
        else:
            body = await _body(receive)
            if body is None:
                answer = problem(
                    413, "Payload Too Large", f"Request body is over {MAX_REQUEST_BYTES} bytes"
                )
            else:
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
                answer = await self.forwarder.forward(
                    scope["method"],
                    path[len(base) :],
                    scope["query_string"].decode("latin-1"),
                    headers,
                    body,
                )
        await _send(answer, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.forwarder.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def proxy_app(base_paths: Sequence[str], forwarder: Forwarder) -> ASGIApp:
    """The proxy, open to browser apps on any origin (as the mock is), which may read the
    headers the proxy adds."""
    return CORSMiddleware(
        Forwarding(base_paths, forwarder),
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[DECODED_HEADER],
    )


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
