"""The control API's guard: only the developer's own pages and tools may use it.

The control API changes everything (reset, state import, faults) and needs no vendor
credentials. Three rules keep it to the developer:

- **Origin.** A browser names the page behind a request in ``Origin``. Requests from another
  origin are refused (403) unless ``--control-origin`` allows it, so a web page the developer
  happens to visit cannot reset the mock. The mock's own origin (the dashboard) is allowed when
  the mock is reached by a loopback name, or when a token is required (a page reaching the mock
  through a rebound DNS name has neither).
- **JSON only for changes.** POST, PUT, PATCH and DELETE need ``Content-Type: application/json``
  (415 otherwise): a browser must ask first (a CORS preflight) before sending that from another
  origin, so no "simple" cross-site request can change state.
- **A loopback Host without a token.** A page on another site can rebind its own DNS name to
  127.0.0.1 and then read the control API as "same origin", with no ``Origin`` header at all;
  its requests still name that site in ``Host``. Without a token, every control request (reads
  included) must name a loopback host, or the host of a ``--control-origin``; only what is open
  without a token anyway (the dashboard page, health, the contract) is open to any name.
- **A token beyond loopback.** With ``--control-token`` (or ``REFUND_MOCK_CONTROL_TOKEN``),
  every control request but the dashboard page, health and the contract needs
  ``X-Mock-Control-Token``; the mock refuses to listen beyond loopback without one.

Vendor API paths are not touched: apps call them from any origin, with credentials.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.error_formats import ErrorFormat
from mock_server.error_kinds import Common, ControlKind, ErrorKind

TOKEN_HEADER = "x-mock-control-token"
TOKEN_VARIABLE = "REFUND_MOCK_CONTROL_TOKEN"
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_WITHOUT_TOKEN = frozenset(
    {"/", "/health", "/health/live", "/health/ready", "/openapi.json", "/openapi.yaml"}
)
ALLOWED_HEADERS = "content-type, x-mock-session, x-mock-control-token, prefer"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, no port) is this machine only."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ControlPolicy:
    path: str  # /__mock__
    origins: frozenset[str] = frozenset()  # --control-origin
    token: str | None = None  # --control-token

    def refusal(self, scope: Scope) -> tuple[ErrorKind, str] | None:
        """Why this control request is refused: (error kind, message), or None."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if (
            self.token is None
            and self._inner_path(scope) not in OPEN_WITHOUT_TOKEN
            and not self.allows_host(host)
        ):
            return (
                ControlKind.ORIGIN_NOT_ALLOWED,
                f"Host {host or '(none)'} is not this machine's loopback name: the control API"
                " answers requests to localhost or 127.0.0.1 (a page whose DNS name was rebound"
                " to the mock sends its own host); give --control-token to reach it by another"
                " name",
            )
        origin = headers.get("origin")
        if origin is not None and not self.allows_origin(origin, headers.get("host", "")):
            return (
                ControlKind.ORIGIN_NOT_ALLOWED,
                (f"Origin {origin} may not use the control API (allow it with --control-origin)"),
            )
        if scope["method"] == "OPTIONS":
            return None  # a preflight: answered with CORS headers, no token is sent with it
        if self.token is not None and self._inner_path(scope) not in OPEN_WITHOUT_TOKEN:
            given = headers.get(TOKEN_HEADER, "").encode("latin-1")
            if not hmac.compare_digest(given, self.token.encode()):
                return (
                    Common.UNAUTHORIZED,
                    ("The control API needs the X-Mock-Control-Token header (--control-token)"),
                )
        if scope["method"] in CHANGING:
            media_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "application/json":
                return (
                    Common.UNSUPPORTED_MEDIA_TYPE,
                    ("Control requests that change state need Content-Type: application/json"),
                )
        return None

    def allows_origin(self, origin: str, host: str) -> bool:
        if origin in self.origins:
            return True
        same_origin = origin in (f"http://{host}", f"https://{host}")
        return same_origin and (self.token is not None or is_loopback(_hostname(host) or ""))

    def allows_host(self, host: str) -> bool:
        """Whether a Host header names this machine's loopback (or a --control-origin's host);
        a missing or malformed one does not."""
        hostname = _hostname(host)
        if hostname is None:
            return False
        return (
            is_loopback(hostname)
            or hostname.endswith(".localhost")  # browsers resolve these to loopback themselves
            or hostname in {_hostname(urlsplit(origin).netloc) for origin in self.origins}
        )

    def _inner_path(self, scope: Scope) -> str:
        return scope["path"].removeprefix(self.path) or "/"

    def governs(self, scope: Scope) -> bool:
        if scope["type"] != "http":
            return False
        path: str = scope["path"]
        return path == self.path or path.startswith(self.path + "/")


class VendorCORSMiddleware(CORSMiddleware):
    """CORS open to every origin, for the vendor APIs only: the control API has its own rules."""

    def __init__(self, app: ASGIApp, policy: ControlPolicy, **options: object) -> None:
        super().__init__(app, **options)  # type: ignore[arg-type]
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.policy.governs(scope):
            await self.app(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


class ControlGuardMiddleware:
    """Refuses control requests the policy does not allow, in the control API's error shape, and
    answers CORS for the origins ``--control-origin`` allows."""

    def __init__(self, app: ASGIApp, policy: ControlPolicy, error_format: ErrorFormat) -> None:
        self.app = app
        self.policy = policy
        self.error_format = error_format

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.policy.governs(scope):
            await self.app(scope, receive, send)
            return
        refused = self.policy.refusal(scope)
        if refused is not None:
            kind, message = refused
            body = json.dumps(self.error_format.body(kind, message)).encode()
            await _answer(send, self.error_format.status(kind), body)
            return
        origin = Headers(scope=scope).get("origin")
        cors = _cors_headers(origin) if origin in self.policy.origins else []
        if scope["method"] == "OPTIONS" and cors:
            await _answer(send, 204, b"", cors)
            return
        await self.app(scope, receive, _with_headers(send, cors))


def _hostname(host: str) -> str | None:
    """The name or address a Host header (``name:port``, ``[::1]:80``) gives, lower case, without
    a trailing dot; None if it gives none or is malformed."""
    if not _HOST.fullmatch(host):
        return None
    hostname = urlsplit(f"//{host}").hostname
    return hostname.rstrip(".") if hostname else None


# A name or IPv4 address, or an IPv6 address in brackets, then an optional port.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\[\]:/@?#\s]+)(:\d{1,5})?")


def _cors_headers(origin: str | None) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", (origin or "").encode()),
        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
        (b"vary", b"Origin"),
    ]


def _with_headers(send: Send, extra: Iterable[tuple[bytes, bytes]]) -> Send:
    added = list(extra)
    if not added:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *added]}
        await send(message)

    return sending


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    content = [(b"content-type", b"application/json")] if body else []
    content += [(b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": content})
    await send({"type": "http.response.body", "body": body})
