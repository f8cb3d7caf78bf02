"""The balance check and the balance write are one atomic step."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx

from tests.support import DEMO_AUTH


def test_concurrent_refunds_never_refund_past_zero(live_mock, open_account):
    account = open_account(-100)["token"]
    url = f"{live_mock.root}/v3/accounts/{account}/refunds"
    body = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 7.5}

    def refund(_: int) -> httpx.Response:
        with httpx.Client(auth=DEMO_AUTH, timeout=30) as client:
            return client.post(url, json=body)

    # 50 refunds of 7.50 ask for 375.00 against a credit balance of 100.00.
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(refund, range(50)))

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 400}, statuses
    accepted = [Decimal(str(r.json()["amount"])) for r in responses if r.status_code == 201]
    assert len(accepted) == 13  # 13 x 7.50 = 97.50; a 14th would pass zero
    assert all(r.json()["error_code"] == "400102" for r in responses if r.status_code == 400)
    with httpx.Client(auth=DEMO_AUTH) as client:
        final = client.get(f"{live_mock.root}/v3/accounts/{account}").json()
        journal = client.get(f"{live_mock.root}/v3/accounts/{account}/journalentries?count=100")
    assert Decimal(str(final["current_balance"])) == Decimal("-100") + sum(accepted)
    assert journal.json()["count"] == len(accepted)
