"""Forwarding one request to the target and bringing its answer back, as a transparent proxy
does: method, path, query and body unchanged; ``Host`` the target's; hop-by-hop headers (RFC 9110
7.6.1) dropped both ways; a compressed answer decoded (the client is told, in
``X-Mock-Proxy-Decoded``); credentials passed through, or replaced by the target's own
(``--target-auth``). A target that cannot be reached, or answers too slowly, is a 502 or a 504
in the problem shape (RFC 9457), saying which and why.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from mock_server.http_clients import tls_context

try:  # the codings httpx decodes here (zstd and br with their packages installed)
    from httpx._decoders import SUPPORTED_DECODERS

    DECODED_BY_HTTPX = frozenset(SUPPORTED_DECODERS) - {"identity"}
except ImportError:  # a later httpx: those it always decodes
    DECODED_BY_HTTPX = frozenset({"gzip", "deflate"})

# Headers about one connection, never forwarded (and those a Connection header names).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set again for the other side: its own host, and the length of the body as it is sent.
REWRITTEN = frozenset({"host", "content-length"})
DECODED_HEADER = "x-mock-proxy-decoded"
DECODABLE = ("gzip", "deflate")  # asked for: what httpx decodes without extra packages
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Target:
    """Where requests go: the API's base URL there (``https://sandbox.example/v3``)."""

    url: str
    auth: tuple[str, str] | None = None  # the target's credentials, in place of the client's
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--target {self.url!r} is not an http(s) URL")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    from_target: bool = True  # False: the proxy's own (the target could not be reached)


def kept(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` less the hop-by-hop ones, those their Connection header names, and those
    set anew for the other side."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    dropped = HOP_BY_HOP | REWRITTEN | named
    return [(name, value) for name, value in headers if name.lower() not in dropped]


class Forwarder:
    def __init__(self, target: Target, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.target = target
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                target.read_timeout_s, connect=target.connect_timeout_s, pool=None
            ),
            verify=tls_context(),
            transport=transport,
            follow_redirects=False,  # a redirect is the target's answer, for the client to see
            # Every connection an app keeps open to the proxy keeps one to the target: httpx's
            # default of 20 kept alive closed and reopened one per request beyond them.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
        )

    async def forward(
        self, method: str, path: bytes, query: bytes, headers: list[tuple[str, str]], body: bytes
    ) -> Answer:
        """The target's answer to this request (``path`` relative to the API's base path, as
        the client spelt it: percent-escapes kept), or the 502 or 504 that says why there is
        none."""
        base = httpx.URL(self.target.url)
        raw = base.raw_path.split(b"?")[0].rstrip(b"/") + path + (b"?" + query if query else b"")
        url = base.copy_with(raw_path=raw)
        # Only codings the proxy can decode for the app (a browser also offers br).
        sent = [(n, v) for n, v in kept(headers) if n.lower() != "accept-encoding"]
        sent.append(("accept-encoding", ", ".join(DECODABLE)))
        if self.target.auth is not None:
            sent = [(name, value) for name, value in sent if name.lower() != "authorization"]
            sent.append(("authorization", basic_authorization(*self.target.auth)))
        try:
            answer = await self._client.request(method, url, headers=sent, content=body)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                return problem(
                    502,
                    "Bad Gateway",
                    f"{self._where()} did not accept a connection"
                    f" within {self.target.connect_timeout_s:g} s",
                )
            return problem(
                504,
                "Gateway Timeout",
                f"{self._where()} did not answer within"
                f" {self.target.read_timeout_s:g} s (--read-timeout)",
            )
        except httpx.HTTPError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            return problem(502, "Bad Gateway", f"{self._where()} cannot be reached: {reason}")
        headers_back = kept(list(answer.headers.multi_items()))
        encoding = answer.headers.get("content-encoding", "identity").lower()
        if encoding in DECODED_BY_HTTPX:  # httpx decoded it: the client gets it as it is now
            headers_back = [(n, v) for n, v in headers_back if n.lower() != "content-encoding"]
            headers_back.append((DECODED_HEADER, encoding))
            return Answer(answer.status_code, headers_back, answer.content)
        # Unasked-for or unknown to the proxy: passed on as it came, its coding said.
        return Answer(answer.status_code, headers_back, await answer.aread())

    def _where(self) -> str:
        return f"the target {self.target.url}"

    async def close(self) -> None:
        await self._client.aclose()


def problem(status: int, title: str, detail: str) -> Answer:
    """An answer of the proxy's own, in the problem shape."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Answer(status, [("content-type", PROBLEM)], json.dumps(body).encode(), from_target=False)


def basic_authorization(user: str, password: str) -> str:
    """An ``Authorization`` header's value for HTTP Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
