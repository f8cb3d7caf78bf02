"""The refunds API: create, retrieve, list (paging, sort, filters), transitions and balances."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.support import TIMESTAMP_PATTERN

REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND"}


def balance(client, token: str) -> Decimal:
    return Decimal(str(client.get(f"/accounts/{token}").json()["current_balance"]))


def create(client, account: str, **fields) -> dict:
    response = client.post(f"/accounts/{account}/refunds", json={**REFUND, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def transition(client, account: str, refund: str, status: str, **fields):
    return client.post(
        f"/accounts/{account}/refunds/{refund}/transitions", json={"status": status, **fields}
    )


# Create and retrieve -------------------------------------------------------------------------


def test_created_refund_can_be_retrieved_as_created(marqeta, open_account):
    account = open_account(-200, payment_sources=[{"token": "ps-1", "account_suffix": "1234"}])
    token = account["token"]
    created = create(
        marqeta,
        token,
        amount=50.25,
        payment_source_token="ps-1",
        description="overpayment",
        currency_code="USD",
    )
    assert created["status"] == "PENDING"  # as the vendor's createRefund example answers
    assert created["payment_source_token"] == "ps-1"
    assert re.match(TIMESTAMP_PATTERN, created["created_time"])
    assert re.match(TIMESTAMP_PATTERN, created["updated_time"])
    fetched = marqeta.get(f"/accounts/{token}/refunds/{created['token']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    # The body as it has always been written: compact JSON, UTF-8, one closing newline.
    assert fetched.content == json.dumps(created, separators=(",", ":")).encode() + b"\n"


def test_refund_without_amount_refunds_the_whole_credit_balance(v3, open_account):
    account = open_account(-321.09)["token"]
    refund = create(v3, account)
    assert Decimal(str(refund["amount"])) == Decimal("321.09")
    assert refund["currency_code"] == "USD"
    assert "description" not in refund and "payment_source_token" not in refund
    assert balance(v3, account) == 0


def test_refund_amounts_add_up_exactly(v3, open_account):
    account = open_account(-0.3)["token"]
    for _ in range(3):
        create(v3, account, amount=0.1)
    assert balance(v3, account) == Decimal("0")  # float arithmetic would leave -5.55e-17
    response = v3.post(f"/accounts/{account}/refunds", json={**REFUND, "amount": 0.01})
    assert response.status_code == 400


def test_refund_generates_a_token_when_none_or_empty_is_given(v3, open_account):
    account = open_account(-10)["token"]
    first = create(v3, account, amount=1)
    second = create(v3, account, amount=1, token="")
    assert first["token"] and second["token"] and first["token"] != second["token"]
    assert len(first["token"]) <= 36


def test_refund_past_zero_is_refused(v3, open_account):
    account = open_account(-10)["token"]
    response = v3.post(f"/accounts/{account}/refunds", json={**REFUND, "amount": 10.01})
    assert response.status_code == 400
    assert response.json()["error_code"] == "400102"
    assert balance(v3, account) == Decimal("-10")


def test_refund_on_non_negative_balance_is_refused(v3):
    for account in ("demo_account_zero_balance", "demo_account_owes_balance"):
        response = v3.post(f"/accounts/{account}/refunds", json={**REFUND, "amount": 1})
        assert response.status_code == 400
        assert response.json()["error_code"] == "400101"


def test_refund_with_three_fraction_digits_is_refused(v3, open_account):
    account = open_account(-10)["token"]
    response = v3.post(f"/accounts/{account}/refunds", json={**REFUND, "amount": 1.005})
    assert response.status_code == 400
    assert response.json()["error_code"] == "400004"
    assert balance(v3, account) == Decimal("-10")
    trailing_zeros = v3.post(
        f"/accounts/{account}/refunds",
        content='{"method": "ACH", "type": "PAYMENT_REFUND", "amount": 1.500}',
        headers={"content-type": "application/json"},
    )
    assert trailing_zeros.status_code == 201  # 1.500 is 1.5: zeros are not digits of money
    assert balance(v3, account) == Decimal("-8.5")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("method", "WIRE"),
        ("type", "GIFT"),
        ("currency_code", "EUR"),
        ("amount", 0),
        ("amount", "5.00"),
        ("token", "x" * 37),
        ("description", "d" * 256),
        ("payment_source_token", "p" * 37),
    ],
)
def test_refund_field_outside_the_contract_is_refused(v3, open_account, field, value):
    account = open_account(-10)["token"]
    response = v3.post(f"/accounts/{account}/refunds", json={**REFUND, "amount": 1, field: value})
    assert response.status_code == 400
    assert response.json()["error_code"] == "400001"
    assert field in response.json()["error_message"]
    assert balance(v3, account) == Decimal("-10")


def test_refund_to_another_accounts_payment_source_is_refused(v3, open_account):
    open_account(-10, payment_sources=[{"token": "theirs", "account_suffix": "0001"}])
    account = open_account(-10)["token"]
    response = v3.post(
        f"/accounts/{account}/refunds", json={**REFUND, "payment_source_token": "theirs"}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "400002"
    assert balance(v3, account) == Decimal("-10")


def test_duplicate_refund_token_is_a_conflict_even_on_another_account(v3, open_account):
    first = open_account(-10)["token"]
    second = open_account(-10)["token"]
    create(v3, first, amount=1, token="shared-token")
    response = v3.post(
        f"/accounts/{second}/refunds", json={**REFUND, "amount": 1, "token": "shared-token"}
    )
    assert response.status_code == 409
    assert balance(v3, second) == Decimal("-10")


def test_refund_under_another_account_is_not_found(v3, open_account):
    owner = open_account(-10)["token"]
    other = open_account(-10)["token"]
    refund = create(v3, owner, amount=1)
    response = v3.get(f"/accounts/{other}/refunds/{refund['token']}")
    assert response.status_code == 404
    assert response.json()["error_code"] == "404002"
    assert v3.get(f"/accounts/{owner}/refunds/no-such-refund").status_code == 404
    assert v3.get(f"/accounts/no-such-account/refunds/{refund['token']}").status_code == 404


# Lists ----------------------------------------------------------------------------------------


def test_list_pages_with_count_start_index_end_index_and_is_more(marqeta, open_account):
    account = open_account(-100)["token"]
    tokens = [create(marqeta, account, amount=1, token=f"r{i}")["token"] for i in range(7)]
    default = marqeta.get(f"/accounts/{account}/refunds").json()
    assert (default["count"], default["start_index"], default["end_index"]) == (5, 0, 4)
    assert default["is_more"] is True
    last = marqeta.get(f"/accounts/{account}/refunds?count=5&start_index=5").json()
    assert (last["count"], last["start_index"], last["end_index"]) == (2, 5, 6)
    assert last["is_more"] is False
    seen = [r["token"] for r in default["data"] + last["data"]]
    assert sorted(seen) == sorted(tokens)
    exact = marqeta.get(f"/accounts/{account}/refunds?count=7").json()
    assert exact["is_more"] is False and exact["count"] == 7
    beyond = marqeta.get(f"/accounts/{account}/refunds?start_index=50").json()
    assert (beyond["count"], beyond["end_index"], beyond["is_more"], beyond["data"]) == (
        0,
        50,
        False,
        [],
    )


def test_list_sorts_by_last_modified_time_newest_first_by_default(v3, open_account):
    account = open_account(-100)["token"]
    for i in range(3):
        create(v3, account, amount=1, token=f"s{i}")
    transition(v3, account, "s0", "PROCESSING")  # s0 is now the most recently modified
    newest_first = [r["token"] for r in v3.get(f"/accounts/{account}/refunds").json()["data"]]
    assert newest_first == ["s0", "s2", "s1"]
    ascending = v3.get(f"/accounts/{account}/refunds?sort_by=lastModifiedTime").json()["data"]
    assert [r["token"] for r in ascending] == ["s1", "s2", "s0"]
    assert v3.get(f"/accounts/{account}/refunds?sort_by=updated_time").status_code == 400


def test_list_filters_by_statuses(v3, open_account):
    account = open_account(-100)["token"]
    for i in range(4):
        create(v3, account, amount=1, token=f"f{i}")
    transition(v3, account, "f1", "PROCESSING")
    transition(v3, account, "f2", "CANCELLED")
    only = v3.get(f"/accounts/{account}/refunds?statuses=PROCESSING").json()["data"]
    assert [r["token"] for r in only] == ["f1"]
    both = v3.get(f"/accounts/{account}/refunds?statuses=PROCESSING&statuses=CANCELLED").json()
    assert sorted(r["token"] for r in both["data"]) == ["f1", "f2"]
    assert v3.get(f"/accounts/{account}/refunds?statuses=REFUNDED").status_code == 400


def test_list_filters_by_inclusive_created_date_range(v3, open_account, clock):
    account = open_account(-100)["token"]
    for day in (1, 2, 3):
        clock.pinned = datetime(2026, 3, day, 23, 59, 59, tzinfo=UTC)
        create(v3, account, amount=1, token=f"d{day}")
    clock.pinned = None

    def tokens(query: str) -> list[str]:
        response = v3.get(f"/accounts/{account}/refunds?count=100&{query}")
        return sorted(r["token"] for r in response.json()["data"])

    assert tokens("start_date=2026-03-02") == ["d2", "d3"]
    assert tokens("end_date=2026-03-02") == ["d1", "d2"]
    assert tokens("start_date=2026-03-02&end_date=2026-03-02") == ["d2"]
    refused = v3.get(f"/accounts/{account}/refunds?start_date=2026-03-03&end_date=2026-03-01")
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "400003"
    assert v3.get(f"/accounts/{account}/refunds?start_date=2026-02-30").status_code == 400


@pytest.mark.parametrize("query", ["count=0", "count=101", "start_index=-1", "count=abc"])
def test_list_paging_parameters_outside_the_contract_are_refused(v3, query):
    response = v3.get(f"/accounts/demo_account_credit_balance/refunds?{query}")
    assert response.status_code == 400
    assert response.json()["error_code"] == "400001"


def test_list_refunds_of_unknown_account_is_not_found(v3):
    assert v3.get("/accounts/nobody/refunds").status_code == 404


# Transitions and balances ----------------------------------------------------------------------


def test_forward_lifecycle_is_accepted_step_by_step(marqeta, open_account):
    account = open_account(-100)["token"]
    refund = create(marqeta, account, amount=40)["token"]
    for status in ("PROCESSING", "SUBMITTED", "COMPLETED"):
        response = transition(marqeta, account, refund, status)
        assert response.status_code == 201
        assert response.json()["status"] == status
    assert marqeta.get(f"/accounts/{account}/refunds/{refund}").json()["status"] == "COMPLETED"
    assert balance(marqeta, account) == Decimal("-60")
    history = marqeta.get(
        f"/accounts/{account}/refunds/{refund}/transitions?sort_by=createdTime"
    ).json()
    assert [t["status"] for t in history["data"]] == ["PROCESSING", "SUBMITTED", "COMPLETED"]
    assert all(t["refund_token"] == refund for t in history["data"])


@pytest.mark.parametrize(
    ("path", "target", "allowed"),
    [
        ([], "COMPLETED", "PROCESSING, CANCELLED"),
        ([], "INITIATED", "PROCESSING, CANCELLED"),
        (["PROCESSING"], "CANCELLED", "SUBMITTED"),
        (["CANCELLED"], "PENDING", "final"),
        (["PROCESSING", "SUBMITTED", "RETURNED"], "COMPLETED", "final"),
    ],
)
def test_illegal_transition_is_refused_naming_the_allowed_targets(
    v3, open_account, path, target, allowed
):
    account = open_account(-100)["token"]
    refund = create(v3, account, amount=10)["token"]
    for status in path:
        assert transition(v3, account, refund, status).status_code == 201
    before = v3.get(f"/accounts/{account}/refunds/{refund}").json()
    balance_before = balance(v3, account)
    response = transition(v3, account, refund, target)
    assert response.status_code == 400
    assert response.json()["error_code"] == "400103"
    assert allowed in response.json()["error_message"]
    assert v3.get(f"/accounts/{account}/refunds/{refund}").json() == before
    assert balance(v3, account) == balance_before


@pytest.mark.parametrize("path", [["CANCELLED"], ["PROCESSING", "SUBMITTED", "RETURNED"]])
def test_cancelled_or_returned_refund_gives_the_amount_back(v3, open_account, path):
    account = open_account(-100)["token"]
    refund = create(v3, account, amount=33.33)["token"]
    assert balance(v3, account) == Decimal("-66.67")
    for status in path:
        transition(v3, account, refund, status)
    assert balance(v3, account) == Decimal("-100")
    entries = v3.get(f"/accounts/{account}/journalentries?sort_by=createdTime").json()["data"]
    assert [(e["type"], Decimal(str(e["amount"]))) for e in entries] == [
        ("account.refund", Decimal("33.33")),
        ("account.refund.reversal", Decimal("-33.33")),
    ]
    assert all(e["detail_token"] == refund for e in entries)


def test_returned_amount_can_be_refunded_again(v3, open_account):
    account = open_account(-50)["token"]
    first = create(v3, account)["token"]
    assert v3.post(f"/accounts/{account}/refunds", json={**REFUND, "amount": 1}).status_code == 400
    transition(v3, account, first, "CANCELLED")
    assert Decimal(str(create(v3, account)["amount"])) == Decimal("50")


def test_transition_moves_updated_time(v3, open_account, clock):
    account = open_account(-50)["token"]
    clock.pinned = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    refund = create(v3, account, amount=1)
    clock.pinned = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
    moved = transition(v3, account, refund["token"], "PROCESSING").json()
    assert refund["updated_time"] == "2026-01-01T12:00:00Z"
    assert moved["updated_time"] == "2026-01-01T12:00:05Z"
    assert moved["created_time"] == refund["created_time"]


def test_duplicate_transition_token_is_a_conflict(v3, open_account):
    account = open_account(-50)["token"]
    refund = create(v3, account, amount=1)["token"]
    assert transition(v3, account, refund, "PROCESSING", token="t-1").status_code == 201
    response = transition(v3, account, refund, "SUBMITTED", token="t-1")
    assert response.status_code == 409
    assert v3.get(f"/accounts/{account}/refunds/{refund}").json()["status"] == "PROCESSING"


def test_transition_with_unknown_status_or_refund_is_refused(v3, open_account):
    account = open_account(-50)["token"]
    refund = create(v3, account, amount=1)["token"]
    assert transition(v3, account, refund, "REFUNDED").status_code == 400
    assert transition(v3, account, "nope", "PENDING").status_code == 404
    assert v3.get(f"/accounts/{account}/refunds/nope/transitions").status_code == 404


def test_created_refund_appears_in_list_and_journal(marqeta, open_account):
    account = open_account(-50)["token"]
    refund = create(marqeta, account, amount=5)
    listed = marqeta.get(f"/accounts/{account}/refunds").json()["data"]
    assert listed == [refund]
    entries = marqeta.get(f"/accounts/{account}/journalentries").json()["data"]
    assert [(e["group"], e["detail_token"]) for e in entries] == [("REFUND", refund["token"])]
