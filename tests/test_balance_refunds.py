"""POST /accounts/{account_token}/creditbalancerefunds: the legacy balance refund."""

from __future__ import annotations

import re
from decimal import Decimal

from tests.support import TIMESTAMP_PATTERN

BALANCE_REFUND = {"method": "CHECK", "description": "credit balance refund", "currency_code": "USD"}


def balance(client, token: str) -> Decimal:
    return Decimal(str(client.get(f"/accounts/{token}").json()["current_balance"]))


def test_balance_refund_is_completed_and_moves_the_balance(marqeta, open_account):
    account = open_account(-4000)["token"]
    response = marqeta.post(
        f"/accounts/{account}/creditbalancerefunds", json={**BALANCE_REFUND, "amount": 500}
    )
    assert response.status_code == 201
    refund = response.json()
    assert refund["status"] == "COMPLETED"
    assert refund["account_token"] == account
    assert refund["amount"] == 500
    assert refund["description"] == "credit balance refund"
    assert re.match(TIMESTAMP_PATTERN, refund["created_time"])
    assert balance(marqeta, account) == Decimal("-3500")


def test_balance_refund_writes_a_balance_refund_journal_entry(marqeta, open_account):
    account = open_account(-100)["token"]
    refund = marqeta.post(
        f"/accounts/{account}/creditbalancerefunds", json={**BALANCE_REFUND, "amount": 12.34}
    ).json()
    entries = marqeta.get(f"/accounts/{account}/journalentries").json()["data"]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["group"], entry["type"]) == ("BALANCE_REFUND", "account.balancerefund")
    assert entry["detail_token"] == refund["token"]
    assert Decimal(str(entry["amount"])) == Decimal("12.34")


def test_largest_balance_refund_brings_the_balance_to_zero(v3, open_account):
    account = open_account(-4000)["token"]
    response = v3.post(
        f"/accounts/{account}/creditbalancerefunds", json={**BALANCE_REFUND, "amount": 4000}
    )
    assert response.status_code == 201
    assert balance(v3, account) == 0


def test_balance_refund_past_zero_is_refused_and_changes_nothing(v3, open_account):
    account = open_account(-4000)["token"]
    response = v3.post(
        f"/accounts/{account}/creditbalancerefunds", json={**BALANCE_REFUND, "amount": 4000.01}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "400102"
    assert "4000.01" in response.json()["error_message"]
    assert balance(v3, account) == Decimal("-4000")
    assert v3.get(f"/accounts/{account}/journalentries").json()["count"] == 0


def test_balance_refund_on_a_zero_or_positive_balance_is_refused(v3, open_account):
    for start in (0, "830.45"):
        account = open_account(float(start))["token"]
        response = v3.post(
            f"/accounts/{account}/creditbalancerefunds", json={**BALANCE_REFUND, "amount": 1}
        )
        assert response.status_code == 400
        assert response.json()["error_code"] == "400101"
        assert balance(v3, account) == Decimal(str(start))


def test_balance_refund_requires_the_documented_fields(v3, open_account):
    account = open_account(-100)["token"]
    for missing in ("method", "amount", "description", "currency_code"):
        body = {**BALANCE_REFUND, "amount": 1}
        del body[missing]
        response = v3.post(f"/accounts/{account}/creditbalancerefunds", json=body)
        assert response.status_code == 400, missing
        assert missing in response.json()["error_message"]
    assert balance(v3, account) == Decimal("-100")


def test_balance_refund_token_is_kept_and_a_duplicate_is_a_conflict(v3, open_account):
    account = open_account(-100)["token"]
    body = {**BALANCE_REFUND, "amount": 1, "token": "my-balance-refund-1"}
    first = v3.post(f"/accounts/{account}/creditbalancerefunds", json=body)
    assert first.status_code == 201
    assert first.json()["token"] == "my-balance-refund-1"
    second = v3.post(f"/accounts/{account}/creditbalancerefunds", json=body)
    assert second.status_code == 409
    assert second.json()["error_code"] == "409001"
    assert balance(v3, account) == Decimal("-99")


def test_balance_refund_on_unknown_account_is_not_found(v3):
    response = v3.post(
        "/accounts/no-such-account/creditbalancerefunds", json={**BALANCE_REFUND, "amount": 1}
    )
    assert response.status_code == 404
    assert response.json()["error_code"] == "404001"
