"""Balanced v1 behaviour a schema cannot express: remainders, fee reversal, meta, links."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from conformance.fixtures import SetupData
from conformance.http import ContractClient
from conformance.vendors.balanced import BalancedAccount, BalancedSetup

pytestmark = pytest.mark.conformance_api("balanced")

REQUEST_ID = re.compile(r"^OHM[0-9A-Za-z]{16,34}$")


def relative(uri: str) -> str:
    """A URI the API hands out, as a path below the base URL (which ends in /v1)."""
    return urlsplit(uri).path.split("/v1", 1)[1] + (f"?{urlsplit(uri).query}" if "?" in uri else "")


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
