"""What Marqeta's own published contract (marqeta/marqeta-openapi, yaml/CoreAPI.yaml) documents
and the mock once refused or left out: each fact learnt from a Schemathesis run driven by the
vendor's document against the mock, kept here as a test of ours."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND"}
SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MILLISECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def refund(client, account: str, **fields) -> dict:
    response = client.post(f"/accounts/{account}/refunds", json={**REFUND, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def simulate(client, account: str, refund_token: str, status: str, **fields):
    return client.post(
        f"/simulation/accounts/{account}/refunds/{refund_token}/transitions",
        json={"status": status, "token": refund_token, **fields},
    )


# Accounts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["true", "false"])
def test_the_documented_account_query_flags_are_accepted(marqeta, open_account, flag):
    account = open_account(-10)["token"]
    for name in ("light_response", "effective_fee_schedule_only"):
        assert marqeta.get(f"/accounts/{account}?{name}={flag}").status_code == 200


def test_journal_entries_sort_by_impact_time_and_take_the_vendors_filters(v3, open_account):
    """Marqeta's published document lets journal entries sort by `impactTime` and filter by
    status, group and more: all accepted (the filters ignored, as the contract says)."""
    account = open_account(-100)["token"]
    first, second = refund(v3, account, amount=1)["token"], refund(v3, account, amount=2)["token"]
    for order, expected in (("impactTime", [first, second]), ("-impactTime", [second, first])):
        page = v3.get(f"/accounts/{account}/journalentries", params={"sort_by": order})
        assert page.status_code == 200, page.text
        assert [entry["detail_token"] for entry in page.json()["data"]] == expected
    filtered = v3.get(
        f"/accounts/{account}/journalentries",
        params={"statuses": "POSTED", "groups": "REFUND", "start_date": "2025-01-01"},
    )
    assert filtered.status_code == 200 and filtered.json()["count"] == 2


def test_a_light_response_leaves_the_balances_out(v3, open_account):
    account = open_account(-10)["token"]
    full = v3.get(f"/accounts/{account}").json()
    light = v3.get(f"/accounts/{account}?light_response=true").json()
    assert {"current_balance", "available_credit"} <= set(full)
    assert set(full) - set(light) == {"current_balance", "available_credit"}
    assert v3.get(f"/accounts/{account}?effective_fee_schedule_only=true").json() == full


def test_an_account_has_every_field_the_vendor_requires(v3, open_account):
    account = v3.get(f"/accounts/{open_account(-10)['token']}").json()
    required = {"config", "created_time", "currency_code", "status", "token", "type"}
    assert required | {"updated_time"} <= set(account)
    assert account["type"] == "CONSUMER"
    assert {"billing_cycle_day", "card_level", "e_disclosure_active", "payment_holds"} <= set(
        account["config"]
    )


def test_a_business_account_from_the_fixtures_says_so(v3, control):
    control.post("/accounts", json={"token": "biz", "current_balance": -5, "type": "BUSINESS"})
    assert v3.get("/accounts/biz").json()["type"] == "BUSINESS"


def test_account_times_have_milliseconds_and_refund_times_whole_seconds(v3, open_account):
    account = v3.get(f"/accounts/{open_account(-10)['token']}").json()
    assert MILLISECONDS.match(account["created_time"]) and MILLISECONDS.match(
        account["updated_time"]
    )
    made = refund(v3, account["token"], amount=1)
    assert SECONDS.match(made["created_time"]) and SECONDS.match(made["updated_time"])


# Refunds -------------------------------------------------------------------------------------


def test_a_new_refund_is_pending_as_in_every_vendor_example(v3, open_account):
    assert refund(v3, open_account(-10)["token"], amount=1)["status"] == "PENDING"


@pytest.mark.parametrize("text", ["line one\nline two", "tab\there", "bell\u0007"])
def test_descriptions_with_control_characters_are_accepted(v3, open_account, text):
    account = open_account(-10)["token"]
    made = refund(v3, account, amount=1, description=text)
    assert made["description"] == text
    assert v3.get(f"/accounts/{account}/refunds/{made['token']}").json() == made


def test_a_token_with_a_control_character_is_refused_it_could_never_be_fetched(v3, open_account):
    account = open_account(-10)["token"]
    response = v3.post(f"/accounts/{account}/refunds", json={**REFUND, "token": "a\nb"})
    assert (response.status_code, response.json()["error_code"]) == (400, "400001")
    assert v3.get(f"/accounts/{account}/refunds").json()["data"] == []


def test_a_transitions_page_may_ask_for_more_than_100(v3, open_account):
    account = open_account(-10)["token"]
    made = refund(v3, account, amount=1)["token"]
    page = v3.get(f"/accounts/{account}/refunds/{made}/transitions?count=500")
    assert page.status_code == 200 and page.json()["count"] == 0


def test_balance_refunds_are_not_listed_with_the_refunds(v3, open_account):
    account = open_account(-10)["token"]
    v3.post(
        f"/accounts/{account}/creditbalancerefunds",
        json={"method": "CHECK", "amount": 1, "description": "b", "currency_code": "USD"},
    )
    assert v3.get(f"/accounts/{account}/refunds").json()["data"] == []


# The sandbox's simulation ----------------------------------------------------------------------


def test_simulation_moves_a_refund_as_the_processor_would(marqeta, open_account):
    account = open_account(-100)["token"]
    made = refund(marqeta, account, amount=40)["token"]
    moved = simulate(marqeta, account, made, "COMPLETED")
    assert moved.status_code == 201 and moved.json()["status"] == "COMPLETED"
    history = marqeta.get(f"/accounts/{account}/refunds/{made}/transitions?sort_by=createdTime")
    assert [t["status"] for t in history.json()["data"]] == ["PROCESSING", "SUBMITTED", "COMPLETED"]
    returned = simulate(marqeta, account, made, "RETURNED").json()
    assert returned["status"] == "RETURNED"
    assert Decimal(str(marqeta.get(f"/accounts/{account}").json()["current_balance"])) == -100


def test_simulation_refuses_what_a_transition_refuses_and_changes_nothing(v3, open_account):
    account = open_account(-100)["token"]
    made = refund(v3, account, amount=40)["token"]
    simulate(v3, account, made, "CANCELLED")
    before = v3.get(f"/accounts/{account}/refunds/{made}").json()
    refused = simulate(v3, account, made, "COMPLETED")
    assert (refused.status_code, refused.json()["error_code"]) == (400, "400103")
    assert v3.get(f"/accounts/{account}/refunds/{made}").json() == before


def test_simulation_needs_credentials_and_a_refund_of_the_account(v3, open_account):
    account = open_account(-100)["token"]
    made = refund(v3, account, amount=1)["token"]
    path = f"/simulation/accounts/{account}/refunds/{made}/transitions"
    body = {"status": "PROCESSING", "token": made}
    assert v3.request("POST", path, json=body, auth=None).status_code == 401
    other = open_account(-100)["token"]
    assert simulate(v3, other, made, "PROCESSING").status_code == 404
    assert simulate(v3, account, "nope", "PROCESSING").status_code == 404
    assert (
        v3.post(
            f"/simulation/accounts/{account}/refunds/{made}/transitions", json={"status": "PENDING"}
        ).status_code
        == 400
    )  # token is required, as the vendor's schema says
