"""Balanced v1 behaviour a schema cannot express: remainders, fee reversal, debit states, escrow,
meta, links."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from conformance.fixtures import NotApplicable, SetupData
from conformance.http import ContractClient
from conformance.vendors.balanced import (
    DEBIT_STATES,
    BalancedAccount,
    BalancedDebit,
    BalancedSetup,
    relative,
)

pytestmark = pytest.mark.conformance_api("balanced")

REQUEST_ID = re.compile(r"^OHM[0-9A-Za-z]{16,34}$")


def accounts(setup: SetupData) -> BalancedSetup:
    found: BalancedSetup = setup.vendor("balanced")
    return found


def debit(client: ContractClient, account: BalancedAccount, amount: int) -> dict[str, Any]:
    path = f"/marketplaces/{account.marketplace_id}/accounts/{account.account_id}/debits"
    response = client.post(path, json={"amount": amount, "description": "conformance"})
    assert response.status_code == 201, f"debit answered {response.status_code}"
    created: dict[str, Any] = response.json()
    return created


def refund(
    client: ContractClient, account: BalancedAccount, debit_uri: str, **fields: Any
) -> httpx.Response:
    path = f"/marketplaces/{account.marketplace_id}/refunds"
    return client.post(path, json={"debit_uri": debit_uri, **fields})


def refunded(
    client: ContractClient, account: BalancedAccount, debit_uri: str, **fields: Any
) -> dict[str, Any]:
    response = refund(client, account, debit_uri, **fields)
    assert response.status_code == 201, f"refund answered {response.status_code}"
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.mutates
def test_refund_without_amount_refunds_the_remainder(
    client: ContractClient, setup: SetupData
) -> None:
    """A refund without amount refunds what is left of the debit."""
    account = accounts(setup).account()
    made = debit(client, account, 1000)
    assert refunded(client, account, made["uri"], amount=300)["amount"] == 300
    rest = refunded(client, account, made["uri"])
    assert rest["amount"] == 700, f"the remainder was 700, refunded {rest['amount']}"


@pytest.mark.mutates
def test_refund_beyond_the_remainder_is_refused(client: ContractClient, setup: SetupData) -> None:
    """More than the remainder is invalid-amount (400); a fully refunded debit is 409."""
    account = accounts(setup).account()
    made = debit(client, account, 500)
    refunded(client, account, made["uri"], amount=200)
    too_much = refund(client, account, made["uri"], amount=301)
    assert too_much.status_code == 400, f"301 of a 300 remainder answered {too_much.status_code}"
    assert too_much.json()["category_code"] == "invalid-amount"
    refunded(client, account, made["uri"], amount=300)
    exhausted = refund(client, account, made["uri"], amount=1)
    assert exhausted.status_code == 409, f"refund of a refunded debit: {exhausted.status_code}"
    assert exhausted.json()["category_code"] == "debit-already-refunded"


def refunds_of(client: ContractClient, debit: BalancedDebit) -> int:
    listed = client.get(relative(debit.uri) + "/refunds")
    assert listed.status_code == 200, f"{debit.uri}/refunds answered {listed.status_code}"
    total: int = listed.json()["total"]
    return total


def refused(
    client: ContractClient,
    debit: BalancedDebit,
    fields: dict[str, Any],
    status: int,
    category_code: str,
    what: str,
) -> None:
    """A refund of ``debit`` is refused with ``status`` and ``category_code``, and the debit
    gains no refund."""
    before = refunds_of(client, debit)
    path = f"/marketplaces/{debit.marketplace_id}/refunds"
    response = client.post(path, json={"debit_uri": debit.uri, **fields})
    assert response.status_code == status, f"refund of {what}: {response.status_code}"
    code = response.json()["category_code"]
    assert code == category_code, f"refund of {what}: {code}"
    assert refunds_of(client, debit) == before, f"the debit gained a refund ({what})"


def in_escrow(client: ContractClient, marketplace_id: str) -> int | None:
    """The marketplace's escrow, or None if the target does not show it (it is optional)."""
    shown: int | None = client.get(f"/marketplaces/{marketplace_id}").json().get("in_escrow")
    return shown


@pytest.mark.mutates
@pytest.mark.parametrize("status", DEBIT_STATES)
def test_a_debit_that_did_not_succeed_cannot_be_refunded(
    client: ContractClient, setup: SetupData, status: str
) -> None:
    """A pending or failed debit is refund-invalid-debit-state (400); nothing is refunded."""
    debit = accounts(setup).debit_in_state(status)
    refused(client, debit, {"amount": 1}, 400, "refund-invalid-debit-state", f"a {status} debit")


@pytest.mark.mutates
def test_a_refund_beyond_the_marketplace_escrow_is_refused(
    client: ContractClient, setup: SetupData
) -> None:
    """More than the marketplace holds in escrow is refund-insufficient-funds (409)."""
    debit = accounts(setup).escrow_short_debit()
    escrow_before = in_escrow(client, debit.marketplace_id)
    # Without amount: the whole remainder.
    refused(client, debit, {}, 409, "refund-insufficient-funds", "more than the escrow")
    assert in_escrow(client, debit.marketplace_id) == escrow_before, "the escrow moved"


@pytest.mark.mutates
def test_escrow_grows_with_a_debit_and_shrinks_with_a_refund(
    client: ContractClient, setup: SetupData
) -> None:
    """A debit adds its amount to the marketplace's in_escrow; a refund takes its amount."""
    account = accounts(setup).account()
    start = in_escrow(client, account.marketplace_id)
    if start is None:
        raise NotApplicable("the target's marketplaces do not show in_escrow")
    made = debit(client, account, 1000)
    after_debit = in_escrow(client, account.marketplace_id)
    assert after_debit == start + 1000, f"escrow {start}, then {after_debit} after a 1000 debit"
    refunded(client, account, made["uri"], amount=300)
    after_refund = in_escrow(client, account.marketplace_id)
    assert after_refund == start + 700, f"escrow {after_debit}, then {after_refund} after 300 back"


@pytest.mark.mutates
def test_fee_reversal_is_proportional_and_adds_up_to_the_debit_fee(
    client: ContractClient, setup: SetupData
) -> None:
    """Each refund reverses its share of the debit's fee; all of them reverse exactly the fee."""
    account = accounts(setup).account()
    made = debit(client, account, 1254)
    parts = [1234, 15, 5]
    fees = [refunded(client, account, made["uri"], amount=part)["fee"] for part in parts]
    for part, fee in zip(parts, fees, strict=True):
        share = made["fee"] * part / made["amount"]
        assert fee <= 0 and abs(-fee - share) <= 1, (
            f"refund of {part} reversed {fee}, share {share}"
        )
    assert sum(fees) == -made["fee"], f"reversed {sum(fees)} of a fee of {made['fee']}"


@pytest.mark.mutates
def test_refund_read_back_equals_what_create_returned(
    client: ContractClient, setup: SetupData
) -> None:
    """A refund read back, on either path, equals what create returned."""
    account = accounts(setup).account()
    made = debit(client, account, 300)
    created = refunded(client, account, made["uri"], amount=100, description="read back")
    marketplace = f"/marketplaces/{account.marketplace_id}"
    for path in (
        f"{marketplace}/refunds/{created['id']}",
        f"{marketplace}/accounts/{account.account_id}/refunds/{created['id']}",
        relative(created["uri"]),
    ):
        assert client.get(path).json() == created, f"{path} differs from what create returned"


@pytest.mark.mutates
def test_meta_and_description_round_trip_through_update(
    client: ContractClient, setup: SetupData
) -> None:
    """PUT description and meta; both paths then return them."""
    account = accounts(setup).account()
    made = debit(client, account, 300)
    created = refunded(client, account, made["uri"], amount=100)
    marketplace = f"/marketplaces/{account.marketplace_id}"
    change = {"description": "changed", "meta": {"my-id": "0987654321", "note": "é ✓"}}
    updated = client.put(f"{marketplace}/refunds/{created['id']}", json=change).json()
    assert (updated["description"], updated["meta"]) == (change["description"], change["meta"])
    read = client.get(f"{marketplace}/accounts/{account.account_id}/refunds/{created['id']}")
    assert read.json()["meta"] == change["meta"], "meta did not round-trip"
    assert read.json()["amount"] == created["amount"], "update changed the amount"


@pytest.mark.mutates
def test_links_walk_a_25_refund_list_page_by_page(client: ContractClient, setup: SetupData) -> None:
    """total, first, next, previous and last links walk every page of a list once."""
    account = accounts(setup).account()
    made = debit(client, account, 2500)
    created = [refunded(client, account, made["uri"], amount=1)["id"] for _ in range(25)]
    page = client.get(relative(made["refunds_uri"]) + "?limit=10").json()
    assert page["total"] == 25 and page["previous_uri"] is None
    seen, pages = [], []
    while True:
        seen += [item["id"] for item in page["items"]]
        pages.append(page)
        if page["next_uri"] is None or len(pages) > 5:
            break
        page = client.get(relative(page["next_uri"])).json()
    assert sorted(seen) == sorted(created), "the pages do not hold the 25 refunds exactly once"
    assert [len(p["items"]) for p in pages] == [10, 10, 5]
    assert pages[-1]["uri"] == pages[0]["last_uri"], "last_uri is not the last page"
    assert client.get(relative(pages[-1]["previous_uri"])).json() == pages[1]


@pytest.mark.mutates
def test_account_refund_list_holds_only_that_accounts_refunds(
    client: ContractClient, setup: SetupData
) -> None:
    """An account's refund list holds its own refunds, not another account's."""
    mine, theirs = accounts(setup).account(), accounts(setup).other_account()
    own = refunded(client, mine, debit(client, mine, 100)["uri"])["id"]
    other = refunded(client, theirs, debit(client, theirs, 100)["uri"])["id"]
    path = f"/marketplaces/{mine.marketplace_id}/accounts/{mine.account_id}/refunds?limit=100"
    ids = {item["id"] for item in client.get(path).json()["items"]}
    assert own in ids and other not in ids, f"account list holds {ids}"


@pytest.mark.mutates
def test_uris_of_a_refund_resolve(client: ContractClient, setup: SetupData) -> None:
    """The refund's, its account's and its debit's URIs can be fetched."""
    account = accounts(setup).account()
    created = refunded(client, account, debit(client, account, 100)["uri"])
    for uri in (
        created["uri"],
        created["account"]["uri"],
        created["account"]["refunds_uri"],
        created["debit"]["uri"],
        created["debit"]["refunds_uri"],
    ):
        response = client.get(relative(uri))
        assert response.status_code == 200, f"{uri} answered {response.status_code}"


def test_errors_use_the_balanced_error_shape(client: ContractClient) -> None:
    """Errors carry status, status_code, category_code and an OHM request id."""
    response = client.get("/marketplaces/CONFORMANCE-no-such-marketplace")
    assert response.status_code == 404, f"unknown marketplace answered {response.status_code}"
    body = response.json()
    assert body["status_code"] == 404 and body["category_code"]
    assert REQUEST_ID.match(body["request_id"]), f"request_id {body['request_id']}"


def test_credentials_are_required(anonymous: ContractClient, client: ContractClient) -> None:
    """Every request needs a valid API key."""
    assert anonymous.get("/marketplaces").status_code == 401, "no credentials accepted"
    wrong = client.get("/marketplaces", auth=("ak-conformance-not-a-key", ""))
    assert wrong.status_code == 401, "a wrong API key was accepted"
