"""The control API under /__mock__: health, reset, accounts for tests; off with --no-control."""

from __future__ import annotations

import httpx
import pytest

from mock_server.app import MockConfig
from tests.support import DEMO_AUTH, JSON, in_process, serve


def test_health_names_each_api_and_its_base_paths(control):
    body = control.get("/health").json()
    assert body["status"] == "ok"
    assert body["control"] == "/__mock__"
    assert body["apis"]["marqeta"]["base_paths"] == ["/v3", "/v3/credit"]
    assert body["apis"]["balanced"]["base_paths"] == ["/v1"]


def test_health_contract_link_serves_the_contract(control, live_mock):
    link = control.get("/health").json()["apis"]["marqeta"]["contract"]
    served = live_mock.request("GET", link).json()
    assert (
        served["paths"]["/accounts/{account_token}/creditbalancerefunds"]["post"]["operationId"]
        == "createBalanceRefund"
    )


def test_created_account_is_served_by_the_vendor_api(control, v3):
    created = control.post(
        "/accounts",
        json={
            "token": "acct-from-control",
            "current_balance": -42.5,
            "credit_limit": 1000,
            "payment_sources": [{"token": "ps-ctl", "account_suffix": "4321", "name": "Mine"}],
        },
    )
    assert created.status_code == 201
    assert created.json()["payment_sources"][0]["token"] == "ps-ctl"
    account = v3.get("/accounts/acct-from-control").json()
    assert account["current_balance"] == -42.5
    assert account["credit_limit"] == 1000
    source = v3.get("/accounts/acct-from-control/paymentsources/ps-ctl").json()
    assert (source["account_suffix"], source["type"], source["name"]) == (
        "4321",
        "CHECKING",
        "Mine",
    )


def test_account_creation_is_all_or_nothing(control, v3):
    control.post(
        "/accounts",
        json={
            "current_balance": -1,
            "payment_sources": [{"token": "taken", "account_suffix": "0000"}],
        },
    )
    response = control.post(
        "/accounts",
        json={
            "token": "half-made",
            "current_balance": -1,
            "payment_sources": [{"token": "taken", "account_suffix": "1111"}],
        },
    )
    assert response.status_code == 409
    assert set(response.json()) == {"error_code", "error_message"}
    assert v3.get("/accounts/half-made").status_code == 404


def test_duplicate_or_invalid_account_is_refused(control):
    assert control.post("/accounts", json={"token": "dup", "current_balance": 0}).status_code == 201
    assert control.post("/accounts", json={"token": "dup", "current_balance": 0}).status_code == 409
    precise = control.post("/accounts", json={"current_balance": -1.005})
    assert precise.status_code == 400 and precise.json()["error_code"] == "400004"
    for body in (
        {},
        {"current_balance": -1, "currency_code": "EUR"},
        {"current_balance": -1, "payment_sources": [{"account_suffix": "12"}]},
        {"current_balance": -1, "colour": "blue"},
    ):
        response = control.post("/accounts", json=body)
        assert response.status_code == 400, body
        assert response.json()["error_code"] == "400001"


def test_reset_restores_the_demo_data_or_empties(control, v3, open_account):
    open_account(-5, token="temporary")
    assert control.post("/reset").json() == {"marqeta_accounts": 3, "balanced_marketplaces": 1}
    assert v3.get("/accounts/temporary").status_code == 404
    assert v3.get("/accounts/demo_account_credit_balance").json()["current_balance"] == -1250
    empty = {"marqeta_accounts": 0, "balanced_marketplaces": 0}
    assert control.post("/reset?fixtures=false").json() == empty
    assert v3.get("/accounts").json()["count"] == 0


def test_no_control_turns_the_control_api_off():
    with serve(MockConfig(control=False)) as mock:
        for method, path in [
            ("GET", "/health"),
            ("POST", "/reset"),
            ("POST", "/accounts"),
            ("GET", "/"),
            ("GET", "/state"),
            ("PUT", "/faults/marqeta/createRefund"),
            ("GET", "/requests"),
        ]:
            response = httpx.request(method, f"{mock.root}/__mock__{path}", json={})
            assert response.status_code == 404
        assert httpx.get(f"{mock.root}/v3/accounts", auth=DEMO_AUTH).status_code == 200


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgresql"])
def test_a_token_in_use_is_refused_where_the_same_rule_answers_on_every_store(
    kind, tmp_path, request
):
    """The SQL stores send writes with the commit, so a taken key reaches them late; the
    service asks where its add is, so every store gives the same first error."""
    store = {
        "memory": lambda: "memory",
        "sqlite": lambda: f"sqlite:{tmp_path / 'mock.db'}",
        "postgresql": lambda: request.getfixturevalue("postgres").new_database(),
    }[kind]()
    with in_process(MockConfig(store=store)) as mock:

        def account(body: dict[str, object]) -> tuple[int, str]:
            made = mock.request("POST", "/__mock__/accounts", json=body, headers=JSON)
            return made.status_code, made.json().get("error_message", "")

        source = {"token": "ps-1", "account_suffix": "1234"}
        first = {"token": "dup", "current_balance": 0, "payment_sources": [source]}
        assert account(first)[0] == 201
        # The amount's precision is checked before the token, as before any store deferred.
        assert account({"token": "dup", "current_balance": -1.005})[0] == 400
        assert account({"token": "dup", "current_balance": 0}) == (409, "Token already in use: dup")
        source_taken = {**first, "token": "new"}
        assert account(source_taken) == (409, "Token already in use: ps-1")
        assert mock.request("GET", "/v3/accounts/new", auth=DEMO_AUTH).status_code == 404
        # A seed whose first account takes a token in use and whose second breaks a rule:
        # the first error is the first one met, on every store.
        accounts = [{"token": "dup", "current_balance": 0}, {"current_balance": -1.005}]
        seeded = mock.request(
            "POST", "/__mock__/seed", json={"marqeta": {"accounts": accounts}}, headers=JSON
        )
        assert (seeded.status_code, seeded.json()["error_message"]) == (
            409,
            "Token already in use: dup",
        )
        debits = [{"id": "WD-new", "amount": 10**15, "fee": 0}]  # far past the escrow limit
        taken = {"id": "TEST-MPdemo", "name": "again", "accounts": [{"debits": debits}]}
        seeded = mock.request(
            "POST", "/__mock__/seed", json={"balanced": {"marketplaces": [taken]}}, headers=JSON
        )
        assert seeded.status_code == 409, seeded.text
