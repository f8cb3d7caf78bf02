"""What a frontend developer gets from `make run`: demo data, CORS, Swagger UI, contracts."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from tests.support import served

MARQETA, BALANCED, CONTROL = "marqeta-credit.yaml", "balanced-v1.yaml", "mock-control.yaml"


def test_demo_accounts_have_negative_zero_and_positive_balances(v3):
    accounts = {a["token"]: a for a in v3.get("/accounts?count=100").json()["data"]}
    assert accounts["demo_account_credit_balance"]["current_balance"] < 0
    assert accounts["demo_account_zero_balance"]["current_balance"] == 0
    assert accounts["demo_account_owes_balance"]["current_balance"] > 0
    sources = v3.get("/accounts/demo_account_credit_balance/paymentsources").json()["data"]
    assert [s["token"] for s in sources] == ["demo_payment_source_checking"]


def test_demo_account_can_be_refunded_listed_transitioned_and_watched(marqeta):
    account = "/accounts/demo_account_credit_balance"
    refund = marqeta.post(
        f"{account}/refunds",
        json={
            "method": "ACH",
            "type": "CREDIT_BALANCE_REFUND",
            "amount": 250,
            "payment_source_token": "demo_payment_source_checking",
        },
    ).json()
    assert Decimal(str(marqeta.get(account).json()["current_balance"])) == Decimal("-1000")
    assert marqeta.get(f"{account}/refunds").json()["data"][0]["token"] == refund["token"]
    marqeta.post(f"{account}/refunds/{refund['token']}/transitions", json={"status": "CANCELLED"})
    assert Decimal(str(marqeta.get(account).json()["current_balance"])) == Decimal("-1250")


def test_cors_preflight_and_error_responses_allow_a_browser_app(live_mock):
    url = "/v3/accounts/demo_account_credit_balance/refunds"
    origin = {"Origin": "http://localhost:5173"}
    preflight = live_mock.request(
        "OPTIONS",
        url,
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,prefer,x-mock-session",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    # The mock's own headers too: a browser app forces answers and picks its session itself.
    assert {"authorization", "prefer", "x-mock-session"} <= set(allowed.split(","))
    unauthorized = live_mock.request("GET", url, headers=origin)
    assert unauthorized.status_code == 401
    assert unauthorized.headers["access-control-allow-origin"] == "*"


def test_swagger_ui_is_served_for_each_path_spelling(live_mock):
    for base in ("/v3", "/v3/credit"):
        page = live_mock.request("GET", f"{base}/ui/", follow_redirects=True)
        assert page.status_code == 200
        assert "swagger" in page.text.lower()
        assert f"{base}/openapi.json" in page.text  # the UI reads the contract served below


@pytest.mark.parametrize(
    ("base", "filename"),
    [("/v3", MARQETA), ("/v3/credit", MARQETA), ("/v1", BALANCED), ("/__mock__", CONTROL)],
)
@pytest.mark.parametrize("spelling", ["openapi.json", "openapi.yaml"])
def test_each_contract_is_served_as_written_with_its_components(
    live_mock, base, filename, spelling
):
    answer = live_mock.request("GET", f"{base}/{spelling}")
    assert answer.status_code == 200
    document = answer.json() if spelling.endswith("json") else yaml.safe_load(answer.text)
    written = served(filename)
    # Components and $refs as in the file, so generated clients keep the vendor's names.
    assert document["components"] == written["components"]
    assert document["paths"] == written["paths"]
    assert answer.text.count("$ref") > 50
    # The server it was fetched under comes first: Swagger UI and clients call that spelling.
    assert document["servers"][0]["url"] == base
    assert {s["url"] for s in document["servers"]} == {s["url"] for s in written["servers"]}
