"""Deliberately defective targets for testing the conformance suite.

A defect is planted either by a small proxy in front of a correct mock that rewrites what passes
through it, or by patching one rule of the mock itself (for defects only the server can commit,
such as accepting an over-refund). Each defect says where the suite's report must flag it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.app import MockConfig, build_app
from mock_server.http_clients import tls_context
from mock_server.marqeta.vendor import DEMO_PASSWORD, DEMO_USER
from mock_server.store.memory import _MemoryTransaction
from tests.support import ConformanceRun, run_with_junit, serve_app

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass(frozen=True)
class Outgoing:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Returned:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Defect:
    name: str
    api: str
    detected_as: str  # a line the report must contain
    on_request: Callable[[Outgoing], Outgoing] | None = None
    on_response: Callable[[Outgoing, Returned], Returned] | None = None
    patches: tuple[tuple[str, Any], ...] = ()  # (dotted target, replacement) on the mock
    also_shows: tuple[str, ...] = ()  # more the report must say about it


@dataclass
class ProxyLog:
    methods: list[str] = field(default_factory=list)


def proxy(
    upstream: str, defect: Defect | None = None, prefix: str = ""
) -> tuple[ASGIApp, ProxyLog]:
    """An ASGI app forwarding ``prefix``/* to ``upstream``/*, with ``defect`` applied."""
    client = httpx.AsyncClient(verify=tls_context(), base_url=upstream, timeout=30)
    log = ProxyLog()

    async def forward(request: Request) -> Response:
        # The raw path, as sent: decoding and re-encoding would change odd generated tokens.
        path = request.scope["raw_path"].decode("latin-1")
        if not path.startswith(prefix + "/"):
            return Response(
                b'{"detail":"outside the proxied prefix"}', 404, media_type="application/json"
            )
        log.methods.append(request.method)
        out = Outgoing(
            method=request.method,
            path=path.removeprefix(prefix),
            query=request.scope["query_string"].decode("latin-1"),
            headers={k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP},
            body=await request.body(),
        )
        if defect is not None and defect.on_request is not None:
            out = defect.on_request(out)
        url = httpx.URL(upstream).copy_with(
            raw_path=(out.path + (f"?{out.query}" if out.query else "")).encode("latin-1")
        )
        upstream_response = await client.request(
            out.method, url, headers=out.headers, content=out.body
        )
        back = Returned(
            status=upstream_response.status_code,
            headers={
                k: v for k, v in upstream_response.headers.items() if k.lower() not in HOP_BY_HOP
            },
            body=upstream_response.content,
        )
        if defect is not None and defect.on_response is not None:
            back = defect.on_response(out, back)
        return Response(back.body, status_code=back.status, headers=back.headers)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # Every request is forwarded: a router would refuse paths its pattern cannot match
        # (a decoded newline, for one) and answer for the upstream.
        if scope["type"] == "http":
            response = await forward(Request(scope, receive))
            await response(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send, client)

    return app, log


async def _lifespan(receive: Receive, send: Send, client: httpx.AsyncClient) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


# Building blocks --------------------------------------------------------------------------------


def rewrite_json(edit: Callable[[Outgoing, Any], Any], statuses: range = range(200, 300)):
    """An ``on_response`` that edits JSON bodies of responses with these statuses."""

    def on_response(out: Outgoing, back: Returned) -> Returned:
        if back.status not in statuses or "json" not in back.headers.get("content-type", ""):
            return back
        body = edit(out, json.loads(back.body))
        return replace(back, body=json.dumps(body).encode())

    return on_response


def each_refund(edit: Callable[[dict[str, Any]], None]) -> Callable[[Outgoing, Any], Any]:
    """Apply ``edit`` to every Marqeta refund in a body (a refund, or a page of them)."""

    def apply(_: Outgoing, body: Any) -> Any:
        items = body.get("data", [body]) if isinstance(body, dict) else []
        for item in items:
            if isinstance(item, dict) and "type" in item and "account_token" in item:
                edit(item)
        return body

    return apply


def each_balanced_refund(edit: Callable[[dict[str, Any]], None]):
    def apply(_: Outgoing, body: Any) -> Any:
        items = body.get("items", [body]) if isinstance(body, dict) else []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("debit"), dict):
                edit(item)
        return body

    return apply


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda item: item.__setitem__(key, value)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda item: item.pop(key, None)


def _retrieves_refund(out: Outgoing) -> bool:
    parts = out.path.strip("/").split("/")
    return out.method == "GET" and len(parts) == 5 and parts[3] == "refunds"


# The defects ----------------------------------------------------------------------------------


def _created_as_200(out: Outgoing, back: Returned) -> Returned:
    if out.method == "POST" and out.path.endswith("/refunds") and back.status == 201:
        return replace(back, status=200)
    return back


def _transition_as_200(out: Outgoing, back: Returned) -> Returned:
    """transitionRefund answers 200 (the sandbox's simulation, also .../transitions, is left
    as it is: one defect, one operation)."""
    transition = out.path.endswith("/transitions") and "/simulation/" not in out.path
    if out.method == "POST" and transition and back.status == 201:
        return replace(back, status=200)
    return back


UNRECOGNISED_METHODS = ("TRACE", "QUERY", "CONNECT", "PROPFIND")


def gateway_501_for_unknown_methods(out: Outgoing, back: Returned) -> Returned:
    """What a gateway may do (RFC 9110): 501 to a method it does not recognise at all."""
    if out.method in UNRECOGNISED_METHODS:
        body = b'{"message": "Not Implemented"}'
        return Returned(501, {"content-type": "application/json"}, body)
    return back


def _flip_is_more(_: Outgoing, body: Any) -> Any:
    if isinstance(body, dict) and "is_more" in body:
        body["is_more"] = not body["is_more"]
    return body


def _reverse_data(_: Outgoing, body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        body["data"].reverse()
    return body


def _ignore_filters(out: Outgoing) -> Outgoing:
    kept = "&".join(
        part
        for part in out.query.split("&")
        if part and not part.startswith(("statuses=", "start_date=", "end_date="))
    )
    return replace(out, query=kept)


def _always_authorized(out: Outgoing) -> Outgoing:
    auth = httpx.BasicAuth(DEMO_USER, DEMO_PASSWORD)
    header = next(auth.auth_flow(httpx.Request("GET", "http://x"))).headers["Authorization"]
    return replace(out, headers={**out.headers, "authorization": header})


def _problem_json(_: Outgoing, back: Returned) -> Returned:
    if not 400 <= back.status < 500:
        return back
    body = {"type": "about:blank", "title": "Error", "status": back.status, "detail": "refused"}
    return Returned(
        back.status, {"content-type": "application/problem+json"}, json.dumps(body).encode()
    )


def _server_error_on_counts(out: Outgoing, back: Returned) -> Returned:
    if out.method == "GET" and "count=" in out.query:
        return Returned(500, {"content-type": "text/plain"}, b"boom")
    return back


def _text_plain(_: Outgoing, back: Returned) -> Returned:
    if 200 <= back.status < 300:
        return replace(back, headers={**back.headers, "content-type": "text/plain"})
    return back


def _tamper_read_back(out: Outgoing, back: Returned) -> Returned:
    if not _retrieves_refund(out):
        return back
    return rewrite_json(each_refund(_set("description", "tampered")))(out, back)


def _next_uri_off_by_one(_: Outgoing, body: Any) -> Any:
    if isinstance(body, dict) and body.get("next_uri"):
        body["next_uri"] = body["next_uri"].replace("offset=", "offset=1")
    return body


def _marqeta_error_shape(_: Outgoing, back: Returned) -> Returned:
    if not 400 <= back.status < 500:
        return back
    body = {"error_code": f"{back.status}001", "error_message": "refused"}
    return Returned(back.status, {"content-type": "application/json"}, json.dumps(body).encode())


def _meta_dropped_on_read(out: Outgoing, back: Returned) -> Returned:
    if out.method != "GET":
        return back
    return rewrite_json(each_balanced_refund(_set("meta", {})))(out, back)


def _no_bound(balance: Any, amount: Any) -> Any:
    return amount if amount is not None else -balance


def _any_transition(lifecycle: Any, current: str, target: str) -> None:
    return None


_MEMORY_ADD = _MemoryTransaction.add  # the real one, kept before any patch


def _silent_overwrite(
    self: Any, kind: str, key: str, record: Any, owners: Any = ("",), taken: Any = None
) -> None:
    if self.get(kind, key) is not None:
        self.replace(kind, key, record)  # instead of refusing the key already in use
    else:
        _MEMORY_ADD(self, kind, key, record, owners, taken)


def _never_returns_amount(extension: Any) -> Any:
    from mock_server.marqeta.rules import Lifecycle

    return Lifecycle(
        initial=extension["initial"],
        transitions={s: tuple(t) for s, t in extension["transitions"].items()},
        returns_amount=frozenset(),
    )


def _no_remainder(debit_id: str, amount: int, refunded: int, requested: int | None) -> int:
    return requested if requested is not None else amount - refunded


def _any_debit_state(debit_id: str, status: str, refundable: str) -> None:
    return None


def _escrow_unchecked(marketplace_id: str, in_escrow: int, amount: int) -> int:
    return max(0, in_escrow - amount)


MARQETA_REFUND = "POST /accounts/{account_token}/refunds"
MARQETA_LIST = "GET /accounts/{account_token}/refunds"

DEFECTS = [
    Defect(
        "transition answered 200",
        "marqeta",
        "200 is not a documented status of transitionRefund",
        on_response=_transition_as_200,
        also_shows=("documented: 201",),
    ),
    Defect(
        "wrong success status", "marqeta", f"FAIL  {MARQETA_REFUND}", on_response=_created_as_200
    ),
    Defect(
        "missing required field",
        "marqeta",
        f"FAIL  {MARQETA_REFUND}",
        on_response=rewrite_json(each_refund(_drop("token"))),
        also_shows=('expected: "token" is a required property', "got:      201: {"),
    ),
    Defect(
        "wrong type",
        "marqeta",
        f"FAIL  {MARQETA_REFUND}",
        on_response=rewrite_json(each_refund(lambda r: r.update(amount=str(r["amount"])))),
    ),
    Defect(
        "wrong timestamp format",
        "marqeta",
        f"FAIL  {MARQETA_REFUND}",
        on_response=rewrite_json(
            each_refund(lambda r: r.update(created_time=r["created_time"][:-1] + ".000Z"))
        ),
    ),
    Defect(
        "enum value outside the contract",
        "marqeta",
        f"FAIL  {MARQETA_REFUND}",
        on_response=rewrite_json(each_refund(_set("status", "DONE"))),
    ),
    Defect(
        "wrong is_more", "marqeta", f"FAIL  {MARQETA_LIST}", on_response=rewrite_json(_flip_is_more)
    ),
    Defect(
        "broken sort",
        "marqeta",
        "FAIL  sort_by=lastModifiedTime sorts ascending, -lastModifiedTime descending.",
        on_response=rewrite_json(_reverse_data),
    ),
    Defect(
        "filters ignored",
        "marqeta",
        "FAIL  statuses= returns the refunds in those statuses and no others.",
        on_request=_ignore_filters,
    ),
    Defect(
        "over-refund accepted",
        "marqeta",
        "FAIL  A refund larger than the credit balance is refused and moves nothing.",
        patches=(("mock_server.marqeta.rules.refund_within_credit_balance", _no_bound),),
    ),
    Defect(
        "illegal transition accepted",
        "marqeta",
        "FAIL  A transition the lifecycle does not allow is refused and leaves the refund"
        " as it was.",
        patches=(("mock_server.marqeta.rules.allowed_transition", _any_transition),),
    ),
    Defect(
        "duplicate token accepted",
        "marqeta",
        "FAIL  A client token already used is refused (409), for refunds and transitions.",
        patches=(
            ("mock_server.marqeta.service._token_unused", lambda tx, kind, token: None),
            ("mock_server.store.memory._MemoryTransaction.add", _silent_overwrite),
        ),
    ),
    Defect(
        "read-after-create mismatch",
        "marqeta",
        "FAIL  A refund read back equals what create returned.",
        on_response=_tamper_read_back,
    ),
    Defect(
        "auth ignored",
        "marqeta",
        "FAIL  Every request needs valid credentials.",
        on_request=_always_authorized,
    ),
    Defect(
        "error body in the wrong shape",
        "marqeta",
        f"FAIL  {MARQETA_REFUND}",
        on_response=_problem_json,
    ),
    Defect(
        "500 on valid input",
        "marqeta",
        f"FAIL  {MARQETA_LIST}",
        on_response=_server_error_on_counts,
    ),
    Defect("wrong content type", "marqeta", f"FAIL  {MARQETA_REFUND}", on_response=_text_plain),
    Defect(
        "balance not given back",
        "marqeta",
        "FAIL  A refund moves the balance up; CANCELLED or RETURNED moves it back.",
        patches=(
            (
                "mock_server.marqeta.rules.Lifecycle.from_contract",
                staticmethod(_never_returns_amount),
            ),
        ),
    ),
    Defect(
        "simulation skips the lifecycle",
        "marqeta",
        "FAIL  The sandbox's simulation moves a refund to the status asked for, each step"
        " recorded.",
        patches=(("mock_server.marqeta.rules.steps_to", lambda _lifecycle, _now, to: [to]),),
    ),
    Defect(
        "wrong Balanced link",
        "balanced",
        "FAIL  GET /marketplaces/{marketplace_id}/refunds",
        on_response=rewrite_json(_next_uri_off_by_one),
    ),
    Defect(
        "refund beyond the debit's remainder accepted",
        "balanced",
        "FAIL  More than the remainder is invalid-amount (400); a fully refunded debit is 409.",
        patches=(("mock_server.balanced.rules.refund_within_remainder", _no_remainder),),
    ),
    Defect(
        "refund of a pending debit accepted",
        "balanced",
        "FAIL  A pending or failed debit is refund-invalid-debit-state (400); nothing is refunded.",
        patches=(("mock_server.balanced.rules.refundable_state", _any_debit_state),),
    ),
    Defect(
        "refund beyond the escrow accepted",
        "balanced",
        "FAIL  More than the marketplace holds in escrow is refund-insufficient-funds (409).",
        patches=(("mock_server.balanced.rules.escrow_after_refund", _escrow_unchecked),),
    ),
    Defect(
        "fee not reversed",
        "balanced",
        "FAIL  Each refund reverses its share of the debit's fee; all of them reverse"
        " exactly the fee.",
        on_response=rewrite_json(each_balanced_refund(_set("fee", 0))),
    ),
    Defect(
        "meta lost on read",
        "balanced",
        "FAIL  PUT description and meta; both paths then return them.",
        on_response=_meta_dropped_on_read,
    ),
    Defect(
        "Balanced error in another vendor's shape",
        "balanced",
        "FAIL  POST /marketplaces/{marketplace_id}/refunds",
        on_response=_marqeta_error_shape,
    ),
]


def run_with_defect(defect: Defect, junit: Path, *extra: str) -> ConformanceRun:
    """``refund-conformance run`` (seed 1, and ``extra`` options) against a proxy planting
    ``defect`` in a correct mock (its patches applied to the mock's code for the run)."""
    with ExitStack() as stack:
        for target, replacement in defect.patches:
            stack.enter_context(mock.patch(target, replacement))
        # Unchecked, as `make run` serves it: the suite checks every answer itself.
        upstream = stack.enter_context(serve_app(build_app(MockConfig())))
        app, _ = proxy(upstream, defect)
        root = stack.enter_context(serve_app(app))
        return run_with_junit(defect.api, root, junit, "--seed", "1", *extra)


def reads_run_of(name: str) -> pytest.MarkDecorator:
    """Marks a test that reads the run of the defect ``name`` (the ``planted`` fixture): tests
    of one run share a pytest-xdist group, so that under ``--dist loadgroup`` (``make test``)
    they meet in one process and the run is made once."""
    if name not in {defect.name for defect in DEFECTS}:
        raise KeyError(f"no planted defect is named {name!r}")
    return pytest.mark.xdist_group(f"planted: {name}")


def each_defect() -> list[Any]:
    """The test parameters, one per defect, each in the group of the tests reading its run."""
    return [pytest.param(d, id=d.name, marks=reads_run_of(d.name)) for d in DEFECTS]
