"""The balance check and the balance write are one atomic step."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx

from mock_server.app import MockConfig
from mock_server.store.memory import MemoryStore
from tests.support import DEMO_AUTH, SlowReadStore, serve

REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 7.5}


def test_concurrent_refunds_never_refund_past_zero():
    # Reads take 1 ms, so unserialised refunds would all see the starting balance.
    with serve(MockConfig(demo=False), store=SlowReadStore(MemoryStore())) as mock:
        control = httpx.post(f"{mock.root}/__mock__/accounts", json={"current_balance": -100})
        account = control.json()["token"]
        url = f"{mock.root}/v3/accounts/{account}/refunds"

        start_together = threading.Barrier(50, timeout=30)

        def refund(_: int) -> httpx.Response:
            with httpx.Client(auth=DEMO_AUTH, timeout=60) as client:
                start_together.wait()  # clients are slow to build; send all at once
                return client.post(url, json=REFUND)

        # 50 refunds of 7.50 ask for 375.00 against a credit balance of 100.00.
        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(refund, range(50)))

        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {201, 400}, statuses
        accepted = [Decimal(str(r.json()["amount"])) for r in responses if r.status_code == 201]
        assert len(accepted) == 13  # 13 x 7.50 = 97.50; a 14th would pass zero
        refused = [r.json()["error_code"] for r in responses if r.status_code == 400]
        assert set(refused) == {"400102"}
        with httpx.Client(auth=DEMO_AUTH) as client:
            final = client.get(f"{mock.root}/v3/accounts/{account}").json()
            journal = client.get(f"{mock.root}/v3/accounts/{account}/journalentries?count=100")
        assert Decimal(str(final["current_balance"])) == Decimal("-100") + sum(accepted)
        assert journal.json()["count"] == len(accepted)
