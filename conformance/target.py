"""The implementation under test: can it be reached, and is it this kit's mock?"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from mock_server.error_formats import ErrorFormat
from mock_server.error_kinds import Common
from mock_server.http_clients import tls_context

CONTROL_HEALTH = "/__mock__/health"
PROXY_REPORT = "/__mock__/proxy/report"  # served by refund-mock proxy; the mock answers 404
CONTROL_TOKEN_VARIABLE = "REFUND_MOCK_CONTROL_TOKEN"  # as the mock reads it (control/guard.py)


class Unreachable(Exception):
    """The target did not answer at all."""


class NotTestable(Exception):
    """The target answers, but not as this API with these credentials: one line naming the
    likely mistake (credentials, base URL)."""


@dataclass(frozen=True)
class MockControl:
    """This kit's mock control API, found beside the target."""

    url: str  # e.g. http://127.0.0.1:8080/__mock__


SESSION_HEADER = "X-Mock-Session"


def check_target(
    base_url: str, api: str, auth: tuple[str, str] | None, read_only: bool
) -> MockControl | None:
    """Before any generated case: the target answers (Unreachable otherwise), as this API with
    these credentials (NotTestable otherwise). Returns this kit's mock's control API if that is
    the target; there the checks run in a session of their own, deleted after, so that they
    leave nothing in the developer's state or journal (a read-only run makes no session)."""
    control = find_mock_control(base_url, api)
    session = f"conformance-check-{uuid.uuid4().hex[:12]}" if control and not read_only else None
    headers = {SESSION_HEADER: session} if session else {}
    try:
        probe(base_url, headers)
        preflight(base_url, api, auth, headers)
    finally:
        if control is not None and session is not None:
            delete_mock_session(control.url, session)
    return control


def probe(base_url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> None:
    """Raise Unreachable unless something answers HTTP at the base URL."""
    try:
        httpx.get(base_url, headers=headers, timeout=timeout, verify=tls_context())
    except httpx.HTTPError as exc:
        raise Unreachable(f"{base_url} did not answer: {exc}") from exc


def find_mock_control(base_url: str, api: str, timeout: float = 5.0) -> MockControl | None:
    """The mock's control API if its health endpoint serves ``api`` at this base URL's path."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    try:
        response = httpx.get(origin + CONTROL_HEALTH, timeout=timeout, verify=tls_context())
        health = response.json()
        served = health["apis"][api]["base_paths"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    if response.status_code != 200 or (parts.path or "/").rstrip("/") not in served:
        return None
    if _is_a_proxy(origin, timeout):
        return None
    return MockControl(url=origin + health["control"])


def _is_a_proxy(origin: str, timeout: float) -> bool:
    """Whether ``origin`` is `refund-mock proxy`: it serves a mock's control API too (for its
    dashboard), but the API behind it is the target's, which the suite tests as it tests any
    target (with setup data)."""
    try:
        report = httpx.get(origin + PROXY_REPORT, timeout=timeout, verify=tls_context())
    except httpx.HTTPError:
        return False
    return report.status_code == 200


def preflight(
    base_url: str,
    api: str,
    auth: tuple[str, str] | None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> None:
    """Before any generated case: a documented read of this API answers under the base URL,
    and the credentials are accepted. Raise NotTestable naming the likely mistake."""
    from conformance.apis import APIS

    contract = APIS[api].contract
    path, is_list = _documented_read(contract)
    response = _get(base_url + path, auth, headers, timeout)
    answer = response.status_code if response is not None else None
    if answer in (401, 403):
        if auth is None:
            raise NotTestable(f"GET {base_url}{path} answered {answer}: pass --auth USER:PASS")
        raise NotTestable(
            f"credentials refused: GET {base_url}{path} answered {answer} with --auth"
            f" {auth[0]}:... (check the {APIS[api].credentials_hint})"
        )
    if response is not None and not _found(response, APIS[api].errors, is_list):
        title = contract["info"]["title"]
        suggestion = next(
            (
                candidate
                for candidate in _base_url_candidates(base_url, contract)
                if (found := _get(candidate + path, auth, headers, timeout)) is not None
                and _found(found, APIS[api].errors, is_list)
            ),
            None,
        )
        hint = f": did you mean {suggestion}?" if suggestion else ""
        raise NotTestable(
            f"nothing of the {title} API under {base_url} (GET {path} answered 404){hint}"
        )


def _documented_read(contract: dict[str, Any]) -> tuple[str, bool]:
    """The contract's first GET without path parameters (a list, e.g. ``/accounts``), and True;
    for a contract without one, its first GET with each path parameter a made-up id, and
    False. NotTestable if it documents no GET at all."""
    reads = [str(path) for path, item in contract["paths"].items() if "get" in item]
    lists = [path for path in reads if "{" not in path]
    if lists:
        return lists[0], True
    if not reads:
        raise NotTestable("the contract documents no GET: the suite cannot check the base URL")
    return re.sub(r"\{[^}]*\}", "conformance-preflight", reads[0]), False


def _base_url_candidates(base_url: str, contract: dict[str, Any]) -> list[str]:
    """Where the API may be instead: the contract's server paths at the target's origin, or
    below the given base URL (behind a gateway prefix)."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    servers = [server["url"].rstrip("/") for server in contract.get("servers", [])]
    found = [origin + server for server in servers] + [base_url + server for server in servers]
    return [candidate for candidate in dict.fromkeys(found) if candidate != base_url]


def _found(response: httpx.Response, errors: ErrorFormat, is_list: bool) -> bool:
    """Whether the documented read reached the API: anything but a 404 for a list; for a
    made-up id, a 404 the API writes for a missing resource (not for an unknown route)."""
    if response.status_code != 404:
        return True
    if is_list:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    kind = errors.kind_for(404, body if isinstance(body, dict) else None)
    return kind not in (None, Common.ROUTE_NOT_FOUND) and errors.says(kind, body)


def _get(
    url: str, auth: tuple[str, str] | None, headers: dict[str, str] | None, timeout: float
) -> httpx.Response | None:
    try:
        return httpx.get(url, auth=auth, headers=headers, timeout=timeout, verify=tls_context())
    except httpx.HTTPError:
        return None


def _control_headers() -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    token = os.environ.get(CONTROL_TOKEN_VARIABLE)
    if token:
        headers["X-Mock-Control-Token"] = token
    return headers


def session_expiry(control_url: str, timeout: float = 10.0) -> float | None:
    """After how many seconds unused the mock deletes a session (None: never, or unknown)."""
    try:
        answer = httpx.get(
            f"{control_url}/sessions",
            headers=_control_headers(),
            timeout=timeout,
            verify=tls_context(),
        )
        expiry = answer.json().get("expire_after_s")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return float(expiry) if isinstance(expiry, int | float) else None


def delete_mock_session(control_url: str, session: str, timeout: float = 10.0) -> None:
    """Delete the session a run worked in on this kit's mock (its state and journal entries)."""
    headers = _control_headers()
    # If the mock went away, nothing of the run is left to clean.
    with contextlib.suppress(httpx.HTTPError):
        httpx.delete(
            f"{control_url}/sessions/{session}",
            headers=headers,
            timeout=timeout,
            verify=tls_context(),
        )
