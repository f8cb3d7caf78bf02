"""Hostile input: each gets a clear 4xx in the vendor's error shape, and nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from tests.support import DEMO_AUTH, JSON, InProcessMock, served

ACCOUNT = "/v3/accounts/demo_account_credit_balance"
MARKETPLACE = "/v1/marketplaces/TEST-MPdemo"
REFUND = '{"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": %s%s}'


def _refund(amount: str = "1", extra: str = "") -> bytes:
    return (REFUND % (amount, extra)).encode()


def _nested(depth: int) -> bytes:
    return _refund(extra=', "description": ' + "[" * depth + "]" * depth)


MARQETA_BODIES = {
    "malformed JSON": (b'{"method": "ACH",', 400),
    "not UTF-8": (b'{"method": "ACH", "description": "\xff\xfe"}', 400),
    "over 1 MiB": (_refund(extra=', "description": "' + "a" * (1024 * 1024) + '"'), 413),
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, 400),
    "nested object": (_nested(5_000), 400),
    "a 5,000-digit amount": (_refund("1" + "0" * 5000), 400),
    "an amount of 1e999": (_refund("1e999"), 400),
    "NaN": (_refund("NaN"), 400),
    "Infinity": (_refund("Infinity"), 400),
    "three fraction digits": (_refund("1.005"), 400),
    "amount as a string": (_refund('"1.00"'), 400),
    "negative amount": (_refund("-5"), 400),
    "token of 37 characters": (_refund(extra=', "token": "' + "t" * 37 + '"'), 400),
    "description of 10,000 characters": (
        _refund(extra=', "description": "' + "d" * 10_000 + '"'),
        400,
    ),
    # Control characters in a description are data, as the vendor's schema says: see
    # test_marqeta_fidelity.py. In a token they are refused (a token travels in paths).
    "a newline ending the token": (_refund(extra=', "token": "tok\\n"'), 400),
    "unknown method": (b'{"method": "CASH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}', 400),
    "a repeated amount": (_refund("1", ', "amount": 99999999'), 400),
    "a lone surrogate in the token": (_refund(extra=', "token": "tok\\ud800"'), 400),
    "a lone low surrogate in the description": (_refund(extra=', "description": "\\udc00"'), 400),
    "a JSON array": (b"[1, 2, 3]", 400),
    "JSON null": (b"null", 400),
    "empty body": (b"", 400),
}


def _marqeta_state(client: httpx.Client) -> Any:
    return (
        client.get(ACCOUNT).json()["current_balance"],
        client.get(f"{ACCOUNT}/refunds?count=100").json()["count"],
        client.get(f"{ACCOUNT}/journalentries?count=100").json()["count"],
    )


def _is_marqeta_error(response: httpx.Response, status: int) -> bool:
    body = response.json()
    return set(body) == {"error_code", "error_message"} and body["error_code"].startswith(
        str(status)
    )


@pytest.fixture
def marqeta_raw(live_mock, session) -> Iterator[httpx.Client]:
    """A plain client in the test's session: these requests are meant to break the contract."""
    with live_mock.client(auth=DEMO_AUTH, timeout=30, headers=session) as client:
        yield client


@pytest.mark.parametrize("case", list(MARQETA_BODIES))
def test_hostile_marqeta_bodies_are_refused_and_change_nothing(marqeta_raw, case):
    body, status = MARQETA_BODIES[case]
    before = _marqeta_state(marqeta_raw)
    for path in (f"{ACCOUNT}/refunds", f"{ACCOUNT}/creditbalancerefunds"):
        response = marqeta_raw.post(path, content=body, headers=JSON)
        assert response.status_code == status, f"{path}: {response.text[:300]}"
        assert _is_marqeta_error(response, status), response.text[:300]
        assert len(response.content) < 2000  # the error quotes a bad value, not all of it
    assert _marqeta_state(marqeta_raw) == before


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("text/plain", 415), ("application/x-www-form-urlencoded", 415), ("application/xml", 415)],
)
def test_bodies_that_are_not_json_are_415(marqeta_raw, content_type, status):
    before = _marqeta_state(marqeta_raw)
    response = marqeta_raw.post(
        f"{ACCOUNT}/refunds", content=b"amount=1", headers={"Content-Type": content_type}
    )
    assert response.status_code == status and _is_marqeta_error(response, status)
    assert _marqeta_state(marqeta_raw) == before


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v3/accounts?count=1000", 400),
        ("/v3/accounts?count=abc", 400),
        ("/v3/accounts?start_index=-1", 400),
        ("/v3/accounts/..%2F..%2Fetc%2Fpasswd", 404),
        ("/v3/accounts/%2e%2e/accounts", 404),
        ("/v3/accounts/a%00b", 404),
        ("/v3/accounts/%E2%98%83%F0%9D%84%9E", 404),
        ("/v3/accounts/" + "x" * 5000, 404),
        (f"{ACCOUNT}/refunds/..%2F..%2F", 404),
        (f"{ACCOUNT}/refunds?statuses=DONE", 400),
        (f"{ACCOUNT}/refunds?start_date=2026-13-01", 400),
    ],
)
def test_hostile_marqeta_paths_and_queries_get_a_clear_4xx(marqeta_raw, path, status):
    response = marqeta_raw.get(path)
    assert response.status_code == status, response.text[:300]
    assert _is_marqeta_error(response, status)


def test_a_query_parameter_the_contract_does_not_name_is_ignored(marqeta_raw):
    # x-mock-unknown-query-parameters: the vendor does not document refusing them.
    plain = marqeta_raw.get("/v3/accounts?count=5").json()
    assert marqeta_raw.get("/v3/accounts?count=5&unknown=1&_=1732579200").json() == plain


BALANCED_BODIES = {
    "malformed JSON": (b'{"amount": ', 400),
    "over 1 MiB": (b'{"description": "' + b"a" * (1024 * 1024) + b'"}', 413),
    "nested meta": (
        b'{"debit_uri": "/v1/marketplaces/TEST-MPdemo/debits/WDdemo431", '
        b'"meta": {"a": {"b": "c"}}}',
        400,
    ),
    "a control character in meta": (
        b'{"debit_uri": "/v1/marketplaces/TEST-MPdemo/debits/WDdemo431", '
        b'"meta": {"k": "v\\u0007"}}',
        400,
    ),
    "fractional cents": (
        b'{"debit_uri": "/v1/marketplaces/TEST-MPdemo/debits/WDdemo431", "amount": 10.5}',
        400,
    ),
    "NaN": (b'{"debit_uri": "/v1/marketplaces/TEST-MPdemo/debits/WDdemo431", "amount": NaN}', 400),
    "huge amount": (
        b'{"debit_uri": "/v1/marketplaces/TEST-MPdemo/debits/WDdemo431", '
        b'"amount": 1' + b"0" * 400 + b"}",
        400,
    ),
    "debit URI of another marketplace": (b'{"debit_uri": "/v1/marketplaces/../debits/x"}', 409),
    "a repeated amount": (
        b'{"debit_uri": "/v1/marketplaces/TEST-MPdemo/debits/WDdemo431", "amount": 1,'
        b' "amount": 431}',
        400,
    ),
    "a lone surrogate in meta": (
        b'{"debit_uri": "/v1/marketplaces/TEST-MPdemo/debits/WDdemo431", '
        b'"meta": {"k\\ud800": "v"}}',
        400,
    ),
}


@pytest.mark.parametrize("case", list(BALANCED_BODIES))
def test_hostile_balanced_bodies_are_refused_and_change_nothing(live_mock, session, case):
    body, status = BALANCED_BODIES[case]
    auth = (DEMO_BALANCED_SECRET, "")
    with live_mock.client(auth=auth, timeout=30, headers=session) as client:
        before = client.get(f"{MARKETPLACE}/refunds").json()["total"]
        response = client.post(f"{MARKETPLACE}/refunds", content=body, headers=JSON)
        assert response.status_code == status, response.text[:300]
        error = response.json()
        assert error["status_code"] == status and error["request_id"].startswith("OHM")
        assert client.get(f"{MARKETPLACE}/refunds").json()["total"] == before


def test_unicode_is_data_kept_exactly(v3):
    description = "naïve ☃ 𝄞 \u200b"
    body = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}
    path = f"{ACCOUNT.removeprefix('/v3')}/refunds"
    created = v3.post(path, json={**body, "description": description}).json()
    assert v3.get(f"{path}/{created['token']}").json()["description"] == description


def test_a_surrogate_pair_is_one_character_and_kept(v3):
    body = b'{"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1,'
    body += b' "description": "clef \\ud834\\udd1e"}'
    path = f"{ACCOUNT.removeprefix('/v3')}/refunds"
    created = v3.post(path, content=body, headers=JSON)
    assert created.status_code == 201, created.text
    assert v3.get(f"{path}/{created.json()['token']}").json()["description"] == "clef 𝄞"


# Bodies without a Content-Type, on every operation that takes one ------------------------------


def _real_path_values(mock: InProcessMock, session: dict[str, str]) -> dict[str, str]:
    """A real resource in the session for every path parameter of an operation with a body."""
    body = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}
    marqeta = mock.request(
        "POST", f"{ACCOUNT}/refunds", json=body, auth=DEMO_AUTH, headers=session
    ).json()
    balanced = mock.request(
        "POST",
        f"{MARKETPLACE}/refunds",
        json={"debit_uri": f"{MARKETPLACE}/debits/WDdemo5000", "amount": 1},
        auth=(DEMO_BALANCED_SECRET, ""),
        headers=session,
    ).json()
    return {
        "account_token": "demo_account_credit_balance",
        "refund_token": marqeta["token"],
        "marketplace_id": "TEST-MPdemo",
        "debit_id": "WDdemopending",
        "account_id": "ACdemobuyer",
        "refund_id": balanced["id"],
        "api": "marqeta",
        "operation_id": "createRefund",
    }


BODY_OPERATIONS = [
    (filename, method, path)
    for filename in ("marqeta-credit.yaml", "balanced-v1.yaml", "mock-control.yaml")
    for path, item in served(filename)["paths"].items()
    for method, operation in item.items()
    if isinstance(operation, dict) and "requestBody" in operation
]


@pytest.mark.parametrize(("filename", "method", "path"), BODY_OPERATIONS)
def test_a_body_without_content_type_is_415_in_the_vendor_shape(
    live_mock, session, control, filename, method, path
):
    base, auth = {
        "marqeta-credit.yaml": ("/v3", DEMO_AUTH),
        "balanced-v1.yaml": ("/v1", (DEMO_BALANCED_SECRET, "")),
        "mock-control.yaml": ("/__mock__", None),
    }[filename]
    url = base + path.format(**_real_path_values(live_mock, session))
    before = control.get("/state").json()
    # A JSON body that would be accepted with its Content-Type (httpx adds none for content=).
    response = live_mock.request(
        method, url, content=b'{"status": "PENDING"}', auth=auth, headers=session
    )
    assert response.status_code == 415, response.text[:300]
    if filename == "balanced-v1.yaml":
        assert response.json()["status_code"] == 415
    else:
        assert _is_marqeta_error(response, 415), response.text
    assert control.get("/state").json() == before
