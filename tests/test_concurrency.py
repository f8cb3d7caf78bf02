"""The balance check and the balance write are one atomic step."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from mock_server.http_clients import tls_context
from mock_server.store import Store
from mock_server.store.backends import open_store
from tests.support import DEMO_AUTH, SlowReadStore, race, serve

REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 7.5}
CLIENTS = 50


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def fresh_store(request: pytest.FixtureRequest, tmp_path) -> Store:
    urls = {"memory": lambda: "memory", "sqlite": lambda: f"sqlite:{tmp_path / 'm.db'}"}
    urls["postgresql"] = lambda: request.getfixturevalue("postgres").new_database()
    return open_store(urls[request.param]())


def race_one(url: str, body: dict, auth: tuple[str, str]) -> list[httpx.Response]:
    """POST ``body`` to ``url`` from CLIENTS clients at once."""
    return race([(url, body, auth)] * CLIENTS, barrier_timeout=30)


def test_concurrent_refunds_never_refund_past_zero(fresh_store):
    # Reads take 1 ms, so unserialised refunds would all see the starting balance.
    with serve(MockConfig(demo=False), store=SlowReadStore(fresh_store)) as mock:
        control = httpx.post(f"{mock.root}/__mock__/accounts", json={"current_balance": -100})
        account = control.json()["token"]
        # 50 refunds of 7.50 ask for 375.00 against a credit balance of 100.00.
        responses = race_one(f"{mock.root}/v3/accounts/{account}/refunds", REFUND, DEMO_AUTH)

        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {201, 400}, statuses
        accepted = [Decimal(str(r.json()["amount"])) for r in responses if r.status_code == 201]
        assert len(accepted) == 13  # 13 x 7.50 = 97.50; a 14th would pass zero
        refused = [r.json()["error_code"] for r in responses if r.status_code == 400]
        assert set(refused) == {"400102"}
        with httpx.Client(verify=tls_context(), auth=DEMO_AUTH) as client:
            final = client.get(f"{mock.root}/v3/accounts/{account}").json()
            journal = client.get(f"{mock.root}/v3/accounts/{account}/journalentries?count=100")
        assert Decimal(str(final["current_balance"])) == Decimal("-100") + sum(accepted)
        assert journal.json()["count"] == len(accepted)


def test_concurrent_refunds_of_one_debit_never_exceed_its_amount(fresh_store):
    with serve(MockConfig(demo=False), store=SlowReadStore(fresh_store)) as mock:
        fixtures = {
            "balanced": {
                "marketplaces": [
                    {
                        "id": "MP",
                        "name": "S",
                        "accounts": [
                            {"id": "AC", "debits": [{"id": "WD", "amount": 1000, "fee": 35}]}
                        ],
                    }
                ]
            }
        }
        httpx.post(f"{mock.root}/__mock__/seed", json=fixtures).raise_for_status()
        body = {"debit_uri": "/v1/marketplaces/MP/debits/WD", "amount": 30}
        auth = (DEMO_BALANCED_SECRET, "")
        # 50 refunds of 30 ask for 1500 of a 1000 debit: 33 fit (990).
        responses = race_one(f"{mock.root}/v1/marketplaces/MP/refunds", body, auth)

        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {201, 400}, statuses
        accepted = [r.json() for r in responses if r.status_code == 201]
        assert len(accepted) == 33
        refused = {r.json()["category_code"] for r in responses if r.status_code == 400}
        assert refused == {"invalid-amount"}
        assert -sum(r["fee"] for r in accepted) <= 35
        listed = httpx.get(
            f"{mock.root}/v1/marketplaces/MP/debits/WD/refunds?limit=100", auth=auth
        ).json()
        assert listed["total"] == 33
        assert sum(item["amount"] for item in listed["items"]) == 990


def test_concurrent_refunds_never_take_more_than_the_marketplace_escrow(fresh_store):
    with serve(MockConfig(demo=False), store=SlowReadStore(fresh_store)) as mock:
        debits = [{"id": f"WD{n}", "amount": 1000} for n in range(CLIENTS)]
        marketplace = {"id": "MP", "name": "S", "in_escrow": 500}
        account = {"id": "AC", "debits": debits}
        fixtures = {"balanced": {"marketplaces": [{**marketplace, "accounts": [account]}]}}
        httpx.post(f"{mock.root}/__mock__/seed", json=fixtures).raise_for_status()
        auth = (DEMO_BALANCED_SECRET, "")
        # Each of 50 clients refunds 30 of its own debit: the debits hold 50 000, the
        # marketplace's escrow 500, so 16 fit (480).
        url = f"{mock.root}/v1/marketplaces/MP/refunds"
        bodies = [
            {"debit_uri": f"/v1/marketplaces/MP/debits/WD{n}", "amount": 30} for n in range(CLIENTS)
        ]
        responses = race([(url, body, auth) for body in bodies], barrier_timeout=30)

        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {201, 409}, statuses
        assert statuses.count(201) == 16
        refused = {r.json()["category_code"] for r in responses if r.status_code == 409}
        assert refused == {"refund-insufficient-funds"}
        shop = httpx.get(f"{mock.root}/v1/marketplaces/MP", auth=auth).json()
        assert shop["in_escrow"] == 500 - 16 * 30
        listed = httpx.get(f"{mock.root}/v1/marketplaces/MP/refunds?limit=100", auth=auth).json()
        assert listed["total"] == 16
