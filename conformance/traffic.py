"""``refund-conformance verify-traffic FILE``: traffic recorded elsewhere (a HAR file, as a
browser's DevTools, Playwright and most proxies export it) checked against the contract,
offline: nothing is sent anywhere.

Each exchange whose URL is under the API (the contract's base paths, or ``--base-url``) is
matched to its operation and its response checked as a run checks the answers to generated
requests: the same Schemathesis checks and the suite's own, under the same names. The report,
its JUnit and its exit codes are a run's: one test per operation, failed when any of its
exchanges broke the contract."""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conformance import checks
from conformance.apis import APIS
from conformance.checks.common import (
    not_a_server_error_but_501_for_unlisted_methods,
    success_status_documented,
)
from conformance.contracts import schema_for
from conformance.http import Exchange, curl
from conformance.options import EXIT_UNUSABLE, RunOptions, UsageError
from conformance.report import BODY_LIMIT, Outcome, Report, Violation, contract_violations

# What a run checks of every answer, less what needs a request of its own (a generated case
# with or without credentials, a method the operation does not list): nothing is sent.
OFFLINE_CHECKS: tuple[checks.Check, ...] = (
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    not_a_server_error_but_501_for_unlisted_methods,
    success_status_documented,
)


def offline_checks(api: str) -> list[checks.Check]:
    return [*OFFLINE_CHECKS, *checks.VENDOR_CHECKS[api]]


@dataclass(frozen=True)
class HarEntry:
    """One exchange as a HAR file keeps it."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    response_body: bytes
    elapsed: timedelta = timedelta(0)  # as the recorder timed it


@dataclass
class Traffic:
    """A file's exchanges of one API, by operation; how many others it held."""

    by_operation: dict[str, list[tuple[Any, HarEntry]]] = field(default_factory=dict)
    others: int = 0


def read_har(path: Path) -> list[HarEntry]:
    """The exchanges of a HAR file (``log.entries``), in its order; a UsageError saying why
    when it is not one, or keeps no bodies to check."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if isinstance(document, dict) and isinstance(document.get("requests"), list):
        raise UsageError(
            f"{path} is a journal export (GET /__mock__/requests): it keeps no headers, so no"
            " media type or required header can be checked; export the traffic as a HAR file"
            " (the browser's DevTools, Playwright's record_har_path) instead"
        )
    entries = document.get("log", {}).get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"{path} is not a HAR file (no log.entries)")
    try:
        return [
            _har_entry(entry)
            for entry in entries
            if entry["response"].get("status")  # 0: never answered (blocked, cancelled)
            and "text" in (entry["response"].get("content") or {"text": ""})  # body kept
        ]
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise UsageError(f"{path}: an entry is not as HAR 1.2 writes it ({exc!r})") from None


def _har_entry(entry: dict[str, Any]) -> HarEntry:
    request, response = entry["request"], entry["response"]
    content = response.get("content") or {}
    text = content.get("text") or ""
    base64_encoded = content.get("encoding") == "base64"
    body = base64.b64decode(text) if base64_encoded else text.encode("utf-8")
    sent = (request.get("postData") or {}).get("text") or ""
    return HarEntry(
        method=request["method"].upper(),
        url=request["url"],
        request_headers=_headers(request),
        request_body=sent.encode("utf-8"),
        status=int(response["status"]),
        reason=response.get("statusText") or "",
        response_headers=_headers(response),
        response_body=body,
        elapsed=timedelta(milliseconds=max(float(entry.get("time") or 0), 0)),
    )


def _headers(message: dict[str, Any]) -> list[tuple[str, str]]:
    # HTTP/2 pseudo-headers (":status") are the browser's framing, not headers of the API.
    return [
        (header["name"], header["value"])
        for header in message.get("headers") or []
        if not header["name"].startswith(":")
    ]


def sorted_traffic(api: str, recorded: list[HarEntry], base_url: str | None) -> Traffic:
    """``recorded`` by the API operation each is, those under the API (``base_url``, or any
    of the contract's base paths on any host) that the contract has an operation for."""
    schema = schema_for(api)
    bases = [base_url.rstrip("/")] if base_url else _base_paths(api)
    traffic = Traffic()
    for exchange in recorded:
        below = _below(exchange.url, bases, absolute=base_url is not None)
        operation = (
            schema.find_operation_by_path(exchange.method, below) if below is not None else None
        )
        if operation is None:
            traffic.others += 1
            continue
        traffic.by_operation.setdefault(operation.label, []).append((operation, exchange))
    return traffic


def _base_paths(api: str) -> list[str]:
    # Longest first: /v3/credit/... is not /v3 + /credit/...
    paths = [server["url"] for server in APIS[api].contract["servers"]]
    return sorted(paths, key=len, reverse=True)


def _below(url: str, bases: list[str], absolute: bool) -> str | None:
    """The path of ``url`` below the first of ``bases`` it is under, or None."""
    parts = urlsplit(url)
    where = url.split("?")[0] if absolute else parts.path
    for base in bases:
        if where == base or where.startswith(base + "/"):
            return where[len(base) :] or "/"
    return None


def violations(api: str, operation: Any, exchange: HarEntry) -> list[Violation]:
    """How the recorded answer breaks the contract, checked as a run checks one."""
    request = httpx.Request(
        exchange.method,
        exchange.url,
        headers=exchange.request_headers,
        content=exchange.request_body,
    )
    # A HAR keeps the body decoded: its Content-Encoding and Content-Length were the wire's.
    framing = {"content-encoding", "content-length", "transfer-encoding"}
    response = httpx.Response(
        exchange.status,
        headers=[(n, v) for n, v in exchange.response_headers if n.lower() not in framing],
        content=exchange.response_body,
        request=request,
    )
    response.elapsed = exchange.elapsed  # what httpx sets once a response is read
    sent_body: dict[str, Any] = {}
    if exchange.request_body:
        media_type = request.headers.get("content-type", "application/json").split(";")[0]
        sent_body = {"body": _json_or_text(exchange.request_body), "media_type": media_type}
    case = operation.Case(
        path_parameters=_path_parameters(operation.path, exchange.url),
        query=dict(parse_qsl(urlsplit(exchange.url).query)),
        headers=dict(exchange.request_headers),
        **sent_body,
    )
    try:
        case.validate_response(response, checks=offline_checks(api))
    except (AssertionError, FailureGroup) as error:  # a check's failure, or several at once
        said = Exchange(
            method=exchange.method,
            url=exchange.url,
            headers=dict(exchange.request_headers),
            body=exchange.request_body or None,
            status=exchange.status,
            response_text=exchange.response_body.decode("utf-8", "replace")[:BODY_LIMIT],
        )
        found = contract_violations(error, said, curl(said))
        if found is None:  # not a contract failure: a bug of ours, not the target's
            raise NotChecked(f"{exchange.method} {exchange.url}: {error!r}") from error
        return found
    return []


class NotChecked(Exception):
    """A check failed for a reason that is not the contract's: the exchange says nothing."""


def _path_parameters(template: str, url: str) -> dict[str, str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
    found = re.search(pattern, urlsplit(url).path)
    return found.groupdict() if found else {}


def _json_or_text(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def outcomes(api: str, traffic: Traffic) -> Iterator[Outcome]:
    """One test per operation the traffic holds, failed when any exchange broke the contract."""
    for label, exchanges in sorted(traffic.by_operation.items(), key=lambda item: item[0]):
        found = [
            v for operation, exchange in exchanges for v in violations(api, operation, exchange)
        ]
        yield Outcome(
            kind="operation",
            title=label,
            status="failed" if found else "passed",
            name=f"verify_traffic[{label}]",
            reason=f"{len(exchanges)} exchange{'s' if len(exchanges) != 1 else ''}",
            violations=found,
        )


def verify(options: RunOptions, traffic_file: Path) -> Report:
    """The report on ``traffic_file``'s exchanges of ``options.api``."""
    recorded = read_har(traffic_file)
    traffic = sorted_traffic(options.api, recorded, options.base_url or None)
    return Report(
        api=options.api,
        base_url=options.base_url or "the contract's base paths",
        mock_control=None,
        options=options,
        outcomes=list(outcomes(options.api, traffic)),
        checked=[check.__name__ for check in offline_checks(options.api)],
        traffic=f"{traffic_file} ({sum(map(len, traffic.by_operation.values()))} exchanges"
        f" of the API checked, {traffic.others} others left out)",
    )


def main(args: Any) -> int:
    options = RunOptions(
        api=args.api,
        base_url=args.base_url or "",
        auth=None,
        setup_data=None,
        read_only=True,
        max_examples=0,
        seed=None,
        max_rps=None,
        time_limit=None,
        junit_xml=args.junit_xml,
    )
    try:
        report = verify(options, args.file)
    except UsageError as exc:
        print(f"refund-conformance: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except NotChecked as exc:
        print(
            f"refund-conformance: error: an exchange could not be checked (a bug of"
            f" refund-conformance, not of the target: please report it): {exc}",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    print("\n".join(report.lines()))
    if options.junit_xml is not None:
        report.write_junit(options.junit_xml)
    return report.verdict().exit_status
