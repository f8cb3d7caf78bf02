"""No operation answers 2xx without valid credentials, however its path is spelled, and
credentials in any script are compared safely; with --no-control the control API is unreachable
however it is spelled."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.auth import Credentials
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from mock_server.spec import load_contract
from tests.support import DEMO_AUTH, serve


def _spellings(path: str) -> list[str]:
    """The path as given and as a careless or hostile client might spell it."""
    first = path.index("/", 1)
    return [
        path,
        path + "/",
        path.replace("/", "//", 2),
        path[:first] + path[first:].upper(),
        path[:first] + "/%" + f"{ord(path[first + 1]):02X}" + path[first + 2 :],
        path + "?",
        path + "/.",
        path[:first] + "/./" + path[first + 1 :],
    ]


@pytest.fixture
def real_ids(live_mock, session) -> dict[str, str]:
    """Ids of real resources in the test's session, so that a request let through would find
    something."""
    body = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}
    account = "demo_account_credit_balance"
    refund = live_mock.request(
        "POST", f"/v3/accounts/{account}/refunds", json=body, auth=DEMO_AUTH, headers=session
    )
    debit_uri = "/v1/marketplaces/TEST-MPdemo/debits/WDdemo1254"
    balanced = live_mock.request(
        "POST",
        "/v1/marketplaces/TEST-MPdemo/refunds",
        json={"debit_uri": debit_uri, "amount": 5},
        auth=(DEMO_BALANCED_SECRET, ""),
        headers=session,
    )
    return {
        "account_token": account,
        "refund_token": refund.json()["token"],
        "payment_source_token": "demo_payment_source_checking",
        "marketplace_id": "TEST-MPdemo",
        "account_id": "ACdemobuyer",
        "debit_id": "WDdemo1254",
        "refund_id": balanced.json()["id"],
    }


def _operations(filename: str, ids: dict[str, str]) -> list[tuple[str, str]]:
    contract = load_contract(filename)
    found = []
    for server in contract["servers"]:
        for template, item in contract["paths"].items():
            path = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)
            found += [
                (method.upper(), server["url"] + path) for method in item if method != "parameters"
            ]
    return found


@pytest.mark.parametrize("contract", ["marqeta-credit.yaml", "balanced-v1.yaml"])
@pytest.mark.parametrize("auth", [None, ("demo_app_token", "wrong"), ("nobody", "")])
def test_no_spelling_of_any_operation_answers_2xx_without_credentials(
    live_mock, session, real_ids, contract, auth
):
    tried = 0
    with live_mock.client(auth=auth, follow_redirects=True, headers=session) as client:
        for method, path in _operations(contract, real_ids):
            for spelling in _spellings(path):
                response = client.request(method, spelling, json={})
                tried += 1
                answered = f"{method} {spelling} answered {response.status_code}"
                assert not response.is_success, answered
                assert response.status_code in (401, 404, 405), answered
    assert tried > 100


def test_without_control_no_spelling_of_the_control_api_is_reachable(start_mock):
    _, root = start_mock("--no-control")
    for path in ("/__mock__/health", "/__mock__/reset", "/__mock__/seed", "/__mock__/accounts"):
        for spelling in _spellings(path):
            for method in ("GET", "POST"):
                response = httpx.request(method, root + spelling, json={}, follow_redirects=True)
                assert response.status_code in (401, 404, 405), f"{method} {spelling}"
    assert httpx.get(f"{root}/v3/accounts", auth=DEMO_AUTH).status_code == 200


# Credentials in any script ------------------------------------------------------------------


def basic(user: bytes, password: bytes) -> dict[str, str]:
    """An Authorization header carrying exactly these bytes (what curl -u sends from a UTF-8
    terminal, or a client in another encoding)."""
    return {"Authorization": "Basic " + base64.b64encode(user + b":" + password).decode()}


NON_ASCII_ATTEMPTS = [
    ("démo".encode(), b"pw"),
    (b"demo_app_token", "démo_access_tokén".encode()),
    ("デモ".encode(), "🔑".encode()),
    (b"\xff\xfe", b"\xc3"),  # not UTF-8 at all
]


@pytest.mark.parametrize(("user", "password"), NON_ASCII_ATTEMPTS)
def test_non_ascii_credentials_are_refused_with_401_not_500(live_mock, user, password):
    for path in ("/v3/accounts", "/v1/marketplaces"):
        refused = live_mock.request("GET", path, headers=basic(user, password))
        assert refused.status_code == 401, refused.text


def test_configured_non_ascii_credentials_work_beside_ascii_ones():
    config = MockConfig(
        credentials={
            "marqeta": Credentials.parse(["me:pässwörd", "ci:s3cr3t"]),
            "balanced": Credentials.api_key_secrets(["ak-tëst-clé"]),
        },
    )
    with serve(config) as mock:
        accounts = f"{mock.root}/v3/accounts"
        assert httpx.get(accounts, auth=("ci", "s3cr3t")).status_code == 200
        assert httpx.get(accounts, headers=basic(b"me", "pässwörd".encode())).status_code == 200
        assert httpx.get(accounts, headers=basic(b"me", b"passworld")).status_code == 401
        # The same letters in Latin-1 are other bytes: not the configured password.
        latin1 = basic(b"me", "pässwörd".encode("latin-1"))
        assert httpx.get(accounts, headers=latin1).status_code == 401
        marketplaces = f"{mock.root}/v1/marketplaces"
        assert (
            httpx.get(marketplaces, headers=basic("ak-tëst-clé".encode(), b"")).status_code == 200
        )
        assert httpx.get(marketplaces, headers=basic(b"ak-test-cle", b"")).status_code == 401
