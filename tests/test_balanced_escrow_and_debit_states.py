"""The Balanced refund errors that need a debit's state or the marketplace's escrow
(v1 errors.rst at 92339dc: ``refund-invalid-debit-state``, ``refund-insufficient-funds``), and
the fixtures and control operations that make them happen."""

from __future__ import annotations

import pytest

from mock_server.balanced import rules
from mock_server.domain import DomainError

MP = "/marketplaces/MP"


@pytest.fixture
def shop(seed) -> dict:
    """Marketplace ``MP`` (escrow 1000 after its debits) with account ``AC1``: a succeeded debit
    of 1254 (``WDok``), a pending one of 700 (``WDpending``) and a failed one (``WDfailed``)."""
    created = seed(
        {
            "balanced": {
                "marketplaces": [
                    {
                        "id": "MP",
                        "name": "Shop",
                        "in_escrow": 1000,
                        "accounts": [
                            {
                                "id": "AC1",
                                "debits": [
                                    {"id": "WDok", "amount": 1254},
                                    {"id": "WDpending", "amount": 700, "status": "pending"},
                                    {"id": "WDfailed", "amount": 300, "status": "failed"},
                                ],
                            }
                        ],
                    }
                ]
            }
        }
    )
    marketplace: dict = created["balanced"]["marketplaces"][0]
    return marketplace


def uri(debit_id: str) -> str:
    return f"/v1/marketplaces/MP/debits/{debit_id}"


def settle(mock_control, debit_id: str, status: str):
    return mock_control.put(f"/marketplaces/MP/debits/{debit_id}/status", json={"status": status})


def category(response) -> tuple[str, str]:
    body = response.json()
    return body["category_code"], body["category_type"]


def escrow(balanced) -> int:
    found: int = balanced.get(MP).json()["in_escrow"]
    return found


def test_fixtures_set_debit_states_and_escrow_and_say_so(shop, balanced):
    assert shop["in_escrow"] == 1000
    statuses = {d["id"]: d["status"] for d in shop["accounts"][0]["debits"]}
    assert statuses == {"WDok": "succeeded", "WDpending": "pending", "WDfailed": "failed"}
    for debit_id, status in statuses.items():
        assert balanced.get(f"{MP}/debits/{debit_id}").json()["status"] == status
    assert escrow(balanced) == 1000


def test_succeeded_debits_add_to_escrow_and_refunds_take_from_it(buyer, balanced):
    assert escrow(balanced) == 0
    made = balanced.post(f"{MP}/accounts/AC1/debits", json={"amount": 5000}).json()
    assert (made["status"], escrow(balanced)) == ("succeeded", 5000)
    balanced.post(f"{MP}/refunds", json={"debit_uri": made["uri"], "amount": 1200})
    assert escrow(balanced) == 3800  # the amount, not the fee reversed


@pytest.mark.parametrize("debit_id", ["WDpending", "WDfailed"])
@pytest.mark.parametrize("path", [f"{MP}/refunds", f"{MP}/accounts/AC1/refunds"])
def test_a_debit_not_succeeded_cannot_be_refunded_and_nothing_changes(
    shop, balanced, debit_id, path
):
    before = balanced.get(f"{MP}/debits/{debit_id}").json()
    # Also more than its amount: the state is what the error names.
    refused = balanced.post(path, json={"debit_uri": uri(debit_id), "amount": 100_000})
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert (body["category_code"], body["category_type"]) == (
        "refund-invalid-debit-state",
        "request",
    )
    assert debit_id in body["description"]
    assert balanced.get(f"{MP}/debits/{debit_id}").json() == before
    assert balanced.get(f"{MP}/debits/{debit_id}/refunds").json()["total"] == 0
    assert escrow(balanced) == 1000


def test_refunding_an_account_skips_debits_that_did_not_succeed(shop, balanced):
    # The newest debits are failed and pending: the refund is drawn on the succeeded one.
    refund = balanced.post(f"{MP}/accounts/AC1/refunds", json={"amount": 100})
    assert refund.status_code == 201, refund.text
    assert refund.json()["debit"]["id"] == "WDok"


def test_refunding_an_account_whose_debits_all_failed_names_the_state(seed, balanced):
    failed = {"id": "WDno", "amount": 500, "status": "failed"}
    account = {"id": "AC9", "debits": [failed]}
    seed({"balanced": {"marketplaces": [{"id": "MP", "name": "S", "accounts": [account]}]}})
    refused = balanced.post(f"{MP}/accounts/AC9/refunds", json={})
    assert refused.status_code == 400
    assert refused.json()["category_code"] == "refund-invalid-debit-state"


def test_a_refund_above_the_escrow_is_insufficient_funds_and_changes_nothing(shop, balanced):
    refused = balanced.post(f"{MP}/refunds", json={"debit_uri": uri("WDok"), "amount": 1001})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert (body["category_code"], body["category_type"]) == (
        "refund-insufficient-funds",
        "logical",
    )
    assert balanced.get(f"{MP}/debits/WDok/refunds").json()["total"] == 0
    assert escrow(balanced) == 1000
    # Within the escrow (and the remainder) it goes through, and takes its amount.
    accepted = balanced.post(f"{MP}/refunds", json={"debit_uri": uri("WDok"), "amount": 1000})
    assert accepted.status_code == 201
    assert escrow(balanced) == 0


def test_the_remainder_is_checked_before_the_escrow(shop, balanced):
    refused = balanced.post(f"{MP}/refunds", json={"debit_uri": uri("WDok"), "amount": 2000})
    assert (refused.status_code, refused.json()["category_code"]) == (400, "invalid-amount")


def test_the_control_api_sets_the_escrow(shop, balanced, mock_control):
    answer = mock_control.put("/marketplaces/MP/escrow", json={"in_escrow": 50})
    assert answer.status_code == 200
    assert answer.json()["in_escrow"] == 50 and answer.json()["id"] == "MP"
    refused = balanced.post(f"{MP}/refunds", json={"debit_uri": uri("WDok"), "amount": 51})
    assert refused.json()["category_code"] == "refund-insufficient-funds"
    assert mock_control.put("/marketplaces/nope/escrow", json={"in_escrow": 1}).status_code == 404
    negative = mock_control.put("/marketplaces/MP/escrow", json={"in_escrow": -1})
    assert negative.status_code == 400
    assert escrow(balanced) == 50


def test_a_pending_debit_that_succeeds_joins_the_escrow_and_can_be_refunded(
    shop, balanced, mock_control
):
    settled = mock_control.put(
        "/marketplaces/MP/debits/WDpending/status", json={"status": "succeeded"}
    )
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "succeeded"
    assert escrow(balanced) == 1700
    refund = balanced.post(f"{MP}/refunds", json={"debit_uri": uri("WDpending")})
    assert (refund.status_code, refund.json()["amount"]) == (201, 700)
    # Asking again for the status it has changes nothing.
    again = mock_control.put(
        "/marketplaces/MP/debits/WDpending/status", json={"status": "succeeded"}
    )
    assert again.status_code == 200
    assert escrow(balanced) == 1000


def test_a_settled_debit_keeps_its_state(shop, balanced, mock_control):
    failed = settle(mock_control, "WDpending", "failed")
    assert failed.json()["status"] == "failed"
    for debit_id, to in (("WDpending", "succeeded"), ("WDok", "failed"), ("WDok", "pending")):
        refused = mock_control.put(
            f"/marketplaces/MP/debits/{debit_id}/status", json={"status": to}
        )
        assert refused.status_code == 409
        assert refused.json()["error_code"] == "409002"
    assert balanced.get(f"{MP}/debits/WDok").json()["status"] == "succeeded"
    assert escrow(balanced) == 1000
    missing = settle(mock_control, "WDnone", "failed")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "404006")
    unknown = settle(mock_control, "WDok", "charged")
    assert unknown.status_code == 400


def test_a_marketplace_stored_before_escrow_was_kept_holds_what_its_debits_brought(
    shop, balanced, control
):
    balanced.post(f"{MP}/refunds", json={"debit_uri": uri("WDok"), "amount": 254})
    state = control.get("/state").json()
    for entry in state["records"]:
        if entry["kind"] == "balanced.marketplace":
            del entry["record"]["in_escrow"]  # as an export of an earlier version has it
    assert control.put("/state", json=state).status_code == 200
    assert escrow(balanced) == 1000  # WDok's remainder; pending and failed debits bring nothing
    balanced.post(f"{MP}/refunds", json={"debit_uri": uri("WDok"), "amount": 1000})
    assert escrow(balanced) == 0


def test_the_rules_alone():
    rules.refundable_state("WD1", "succeeded", "succeeded")
    with pytest.raises(DomainError) as refused:
        rules.refundable_state("WD1", "pending", "succeeded")
    assert refused.value.kind == "refund_invalid_debit_state"
    assert rules.escrow_after_refund("MP", 100, 100) == 0
    with pytest.raises(DomainError) as short:
        rules.escrow_after_refund("MP", 99, 100)
    assert short.value.kind == "refund_insufficient_funds"
    transitions = {"pending": ("succeeded", "failed")}
    assert rules.debit_status_change("WD1", "pending", "failed", transitions) is True
    assert rules.debit_status_change("WD1", "failed", "failed", transitions) is False
    with pytest.raises(DomainError):
        rules.debit_status_change("WD1", "succeeded", "pending", transitions)


def test_a_debit_that_would_carry_the_escrow_past_the_safe_integer_is_refused(buyer, balanced):
    largest = 2**53 - 1
    assert balanced.post(f"{MP}/accounts/AC1/debits", json={"amount": largest}).status_code == 201
    refused = balanced.post(f"{MP}/accounts/AC1/debits", json={"amount": 1})
    assert refused.status_code == 400
    assert category(refused) == ("invalid-amount", "request")
    assert escrow(balanced) == largest
    assert balanced.get(f"{MP}/debits").json()["total"] == 1
