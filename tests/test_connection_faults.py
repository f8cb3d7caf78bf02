"""Connection faults, asked for per request (`Prefer: fault=...`) or set on an operation through
the control API, as a real HTTP client sees them over a real connection (uvicorn, as refund-mock
serves). The error each client raises is the one docs/mock.md names; a browser's `fetch` is in
tests/test_dashboard.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.connection_faults import CONNECTION_FAULTS, SLOW_CHUNKS, SLOW_INTERVAL_S
from mock_server.registry import control_contract
from tests.support import DEMO_AUTH, JSON, LiveMock, serve

REFUNDS = "/v3/accounts/demo_account_credit_balance/refunds"
REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}


class Pacing:
    """Stands in for asyncio.sleep: records the waits asked for and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def pacing() -> Pacing:
    return Pacing()


@pytest.fixture
def mock(pacing: Pacing) -> Iterator[LiveMock]:
    with serve(MockConfig(sleep=pacing)) as served:
        yield served


def refunds_made(root: str) -> int:
    count: int = httpx.get(f"{root}{REFUNDS}", auth=DEMO_AUTH).json()["count"]
    return count


def create(root: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{root}{REFUNDS}", json=REFUND, auth=DEMO_AUTH, headers=headers, timeout=30)


# What httpx raises, and whether the refund was made: nothing is done for the first three.
SEEN_BY_HTTPX: dict[str, tuple[type[Exception] | None, str, bool]] = {
    "reset": (httpx.ReadError, "Connection reset by peer", False),
    "empty": (httpx.RemoteProtocolError, "Server disconnected without sending a response", False),
    "malformed-json": (None, "", False),
    "reset-mid-body": (httpx.ReadError, "Connection reset by peer", True),
    "truncated": (
        httpx.RemoteProtocolError,
        "peer closed connection without sending complete",
        True,
    ),
    "slow": (None, "", True),
}


def test_every_connection_fault_the_contract_names_is_one_the_mock_has():
    schemas = control_contract()["components"]["schemas"]
    named = schemas["ConnectionFault"]["enum"]
    assert set(named) == CONNECTION_FAULTS == set(SEEN_BY_HTTPX)
    # Where it may be null (OpenAPI 3.0 lists null in the enum), the same names.
    journaled = schemas["RequestList"]["properties"]["requests"]["items"]["properties"]
    for nullable in (schemas["Fault"]["properties"]["connection"], journaled["connection_fault"]):
        assert nullable["enum"] == [*named, None]


@pytest.mark.parametrize("kind", sorted(SEEN_BY_HTTPX))
def test_prefer_fault_is_what_an_http_client_sees_and_does_the_request_or_not(mock, kind):
    error, says, carried_out = SEEN_BY_HTTPX[kind]
    before = refunds_made(mock.root)
    if error is not None:
        with pytest.raises(error, match=says):
            create(mock.root, Prefer=f"fault={kind}")
    else:
        answer = create(mock.root, Prefer=f"fault={kind}")
        if kind == "malformed-json":
            assert answer.status_code == 200
            with pytest.raises(ValueError):
                answer.json()
        else:
            assert answer.status_code == 201 and answer.json()["amount"] == 1
    assert refunds_made(mock.root) == before + carried_out
    journaled = httpx.get(f"{mock.root}/__mock__/requests", params={"operation": "createRefund"})
    entry = journaled.json()["requests"][0]
    assert entry["connection_fault"] == kind
    expected_status = {"reset": None, "empty": None, "malformed-json": 200}.get(kind, 201)
    assert entry["status"] == expected_status
    # The connection it broke is the only one: the next request is answered as ever.
    assert create(mock.root).status_code == 201


def streamed_create(root: str, fault: str) -> Any:
    """A create whose answer is read as it comes (``with``), under ``Prefer: fault=...``."""
    return httpx.stream(
        "POST",
        f"{root}{REFUNDS}",
        json=REFUND,
        auth=DEMO_AUTH,
        headers={"Prefer": f"fault={fault}"},
    )


def test_a_slow_answer_comes_whole_in_parts_paced_as_documented(mock, pacing):
    with streamed_create(mock.root, "slow") as answer:
        body = answer.read()
    assert answer.status_code == 201 and b'"amount":1' in body
    assert pacing.waits == [SLOW_INTERVAL_S] * (SLOW_CHUNKS - 1)


def test_a_truncated_answer_promises_its_whole_body_in_content_length(mock):
    with streamed_create(mock.root, "truncated") as answer:
        promised = int(answer.headers["content-length"])
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in answer.iter_raw():
                received += chunk
    assert answer.status_code == 201 and 0 < len(received) < promised


def test_an_unknown_prefer_fault_is_refused_in_the_vendors_shape_naming_the_faults(mock):
    refused = create(mock.root, Prefer="fault=explode")
    assert (refused.status_code, refused.json()["error_code"]) == (400, "400001")
    assert "reset-mid-body" in refused.json()["error_message"]


def test_a_fault_set_through_the_control_api_resets_the_next_answer_then_lets_them_through(mock):
    fault: dict[str, Any] = {"next": ["reset", 500, "empty"]}
    put = httpx.put(f"{mock.root}/__mock__/faults/marqeta/createRefund", json=fault)
    assert put.status_code == 200, put.text
    assert put.json()["next"] == ["reset", 500, "empty"]
    with pytest.raises(httpx.ReadError):
        create(mock.root)
    assert create(mock.root).status_code == 500
    with pytest.raises(httpx.RemoteProtocolError):
        create(mock.root)
    assert create(mock.root).status_code == 201  # the queue is used up


def test_a_connection_fault_on_every_answer_hits_only_its_session(mock):
    session = {"X-Mock-Session": "flaky"}
    put = httpx.put(
        f"{mock.root}/__mock__/faults/marqeta/createRefund",
        json={"connection": "truncated"},
        headers=session,
    )
    assert put.status_code == 200 and put.json()["connection"] == "truncated"
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            create(mock.root, **session)
    assert create(mock.root).status_code == 201  # the default state's requests are untouched
    assert (
        httpx.delete(f"{mock.root}/__mock__/faults", headers={**JSON, **session}).status_code == 204
    )
    assert create(mock.root, **session).status_code == 201


def test_a_fault_naming_no_connection_fault_is_refused(mock):
    for fault in ({"connection": "explode"}, {"next": ["explode"]}):
        put = httpx.put(f"{mock.root}/__mock__/faults/marqeta/createRefund", json=fault)
        assert put.status_code == 400, fault
