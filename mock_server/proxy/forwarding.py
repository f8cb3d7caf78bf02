"""Forwarding one request to the target and bringing its answer back, as a transparent proxy
does: method, path, query and body unchanged; ``Host`` the target's; hop-by-hop headers (RFC 9110
7.6.1) dropped both ways; a compressed answer decoded (the client is told, in
``X-Mock-Proxy-Decoded``); credentials passed through, or replaced by the target's own
(``--target-auth``). A target that cannot be reached, or answers too slowly, is a 502 or a 504
in the problem shape (RFC 9457), saying which and why.
"""

from __future__ import annotations

import base64
import gzip
import json
import urllib.request
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from mock_server.http_clients import tls_context

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
DECODABLE = ("gzip", "deflate")  # asked for, and decoded for the client: the standard library's
PROBLEM = "application/problem+json"
MAX_HEADER_BYTES = 64 * 1024  # a target's header line or field (aiohttp's default is 8 KiB)
MAX_HEADERS = 1024  # headers in a target's answer (aiohttp's default is 128)


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
    """One HTTP client (aiohttp's) to the target, made on first use in the serving event loop:
    a connection per concurrent request, kept alive; no cookie jar (one app's cookies must not
    reach the target as another's); the environment's HTTP(S)_PROXY and NO_PROXY honoured, as
    curl does (read once: aiohttp's ``trust_env`` reads them, and ~/.netrc, per request)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._base = urlsplit(target.url)._replace(query="", fragment="").geturl().rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._through = _environment_proxy(target.url)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=tls_context()),
                timeout=aiohttp.ClientTimeout(
                    connect=self.target.connect_timeout_s,  # name resolution included
                    sock_connect=self.target.connect_timeout_s,
                    sock_read=self.target.read_timeout_s,
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,  # decoded below, only the codings it asked for
                # Nothing the app did not send: no User-Agent, Accept or Content-Type of its own.
                skip_auto_headers=("User-Agent", "Accept", "Content-Type"),
                max_line_size=MAX_HEADER_BYTES,
                max_field_size=MAX_HEADER_BYTES,
                max_headers=MAX_HEADERS,
            )
        return self._session

    async def forward(
        self, method: str, path: bytes, query: bytes, headers: list[tuple[str, str]], body: bytes
    ) -> Answer:
        """The target's answer to this request (``path`` relative to the API's base path, as
        the client spelt it: percent-escapes kept), or the 502 or 504 that says why there is
        none."""
        raw = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        url = URL(self._base + raw, encoded=True)  # encoded: the escapes go as they came
        # Only codings the proxy can decode for the app (a browser also offers br).
        sent = [(n, v) for n, v in kept(headers) if n.lower() != "accept-encoding"]
        sent.append(("accept-encoding", ", ".join(DECODABLE)))
        if self.target.auth is not None:
            sent = [(name, value) for name, value in sent if name.lower() != "authorization"]
            sent.append(("authorization", basic_authorization(*self.target.auth)))
        try:  # aiohttp writes header values as UTF-8: the app's bytes must be UTF-8 to go as sent
            sent = [(name, value.encode("latin-1").decode("utf-8")) for name, value in sent]
        except UnicodeDecodeError:
            return problem(
                400, "Bad Request", "A header value is not UTF-8: it cannot be forwarded as sent"
            )
        try:
            async with self._client().request(
                method,
                url,
                headers=sent,
                data=body or None,
                allow_redirects=False,
                proxy=self._through,
            ) as answer:
                status = answer.status
                headers_back = kept(  # names in lower case, as ASGI has them
                    [
                        (n.decode("latin-1").lower(), v.decode("latin-1"))
                        for n, v in answer.raw_headers
                    ]
                )
                content = await answer.read()
        except aiohttp.ConnectionTimeoutError:
            return problem(
                502,
                "Bad Gateway",
                f"{self._where()} did not accept a connection"
                f" within {self.target.connect_timeout_s:g} s",
            )
        except TimeoutError:  # aiohttp's SocketTimeoutError among them
            return problem(
                504,
                "Gateway Timeout",
                f"{self._where()} did not answer within"
                f" {self.target.read_timeout_s:g} s (--read-timeout)",
            )
        except aiohttp.ClientError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            return problem(502, "Bad Gateway", f"{self._where()} cannot be reached: {reason}")
        coding = next(
            (v.strip().lower() for n, v in headers_back if n == "content-encoding"), "identity"
        )
        if coding not in DECODABLE or not content:  # unasked-for, unknown, or nothing (HEAD)
            return Answer(status, headers_back, content)
        try:
            content = _decoded(content, coding)
        except (OSError, EOFError, zlib.error) as exc:
            return problem(
                502, "Bad Gateway", f"{self._where()} sent {coding} that does not decode: {exc}"
            )
        headers_back = [(n, v) for n, v in headers_back if n != "content-encoding"]
        headers_back.append((DECODED_HEADER, coding))
        return Answer(status, headers_back, content)

    def _where(self) -> str:
        return f"the target {self.target.url}"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY`` or ``HTTP_PROXY``, else
    ``ALL_PROXY``), None when there is none or ``NO_PROXY`` leaves ``url``'s host out."""
    parts = urlsplit(url)
    named = urllib.request.getproxies_environment()
    proxy = named.get(parts.scheme) or named.get("all")
    if proxy is None or urllib.request.proxy_bypass(parts.netloc):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"  # curl's reading of proxy:3128


def _decoded(body: bytes, coding: str) -> bytes:
    """``body`` decoded from ``coding`` (one of ``DECODABLE``)."""
    if coding == "gzip":
        return gzip.decompress(body)  # every member, as a browser reads it
    try:  # deflate is zlib-wrapped (RFC 9110 8.4.1.2); some servers send it raw
        return zlib.decompress(body)
    except zlib.error:
        return zlib.decompress(body, wbits=-zlib.MAX_WBITS)


def problem(status: int, title: str, detail: str) -> Answer:
    """An answer of the proxy's own, in the problem shape."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Answer(status, [("content-type", PROBLEM)], json.dumps(body).encode(), from_target=False)


def basic_authorization(user: str, password: str) -> str:
    """An ``Authorization`` header's value for HTTP Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
