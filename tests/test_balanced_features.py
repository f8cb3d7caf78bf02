"""Balanced's own refund scenarios (balanced/balanced-api ``features/refunds.feature``, written
for API 1.1), translated to the v1 paths this kit serves, each asserting what the scenario
asserts. The ``balanced`` client checks every answer against the contract, which stands for the
feature's "the response is valid according to the ... schema".

Translation: 1.1's ``POST /debits/:debit_id/refunds`` (and its "POST to the link
debits.refunds") is v1's ``POST .../refunds`` with the debit's ``debit_uri``: v1 documents no
POST on a debit's refunds; 1.1's ``{"refunds": [{...}]}`` envelope is v1's bare object; 1.1's
``links.debit`` on a listed refund is v1's embedded ``debit``.
"""

from __future__ import annotations

import pytest

MP = "/marketplaces/MP"


@pytest.fixture
def debit(balanced, buyer) -> dict:
    """Given I have debited a card."""
    made = balanced.post(f"{MP}/accounts/AC1/debits", json={"amount": 1254})
    assert made.status_code == 201, made.text
    debit: dict = made.json()
    return debit


@pytest.fixture
def refund(balanced, debit) -> dict:
    """Given I have created a refund for a debit."""
    made = balanced.post(f"{MP}/refunds", json={"debit_uri": debit["uri"], "amount": 254})
    assert made.status_code == 201, made.text
    refund: dict = made.json()
    return refund


def relative(uri: str) -> str:
    return uri.removeprefix("/v1")


@pytest.mark.parametrize("path", [f"{MP}/refunds", f"{MP}/accounts/AC1/refunds"])
def test_creating_a_full_refund(balanced, debit, path):
    response = balanced.post(path, json={"debit_uri": debit["uri"]})
    assert response.status_code == 201
    assert response.json()["amount"] == debit["amount"]


def test_creating_a_partial_refund(balanced, debit):
    body = {
        "debit_uri": debit["uri"],
        "amount": 100,
        "description": "The customer was unhappy",
        "meta": {"reason": "not shipped"},
    }
    response = balanced.post(f"{MP}/refunds", json=body)
    assert response.status_code == 201
    created = response.json()
    assert created["amount"] == 100
    assert (created["description"], created["meta"]) == (body["description"], body["meta"])


def test_listing_refunds_for_a_debit(balanced, debit, refund):
    response = balanced.get(relative(debit["refunds_uri"]))
    assert response.status_code == 200
    listed = response.json()["items"]
    assert [item["id"] for item in listed] == [refund["id"]]
    assert {item["debit"]["id"] for item in listed} == {debit["id"]}


def test_retrieving_a_refund(balanced, refund):
    response = balanced.get(relative(refund["uri"]))
    assert response.status_code == 200
    assert response.json() == refund


def test_update_a_refund_description(balanced, refund):
    change = {"description": "The customer cancel the order"}
    response = balanced.put(relative(refund["uri"]), json=change)
    assert response.status_code == 200
    assert response.json()["description"] == "The customer cancel the order"


def test_update_a_refund_meta(balanced, refund):
    response = balanced.put(relative(refund["uri"]), json={"meta": {"something": "random"}})
    assert response.status_code == 200
    assert response.json()["meta"] == {"something": "random"}


def test_create_a_failed_refund(balanced, debit):
    body = {"debit_uri": debit["uri"], "amount": 200000000}
    response = balanced.post(f"{MP}/refunds", json=body)
    assert response.status_code == 400
    assert response.json()["category_code"] == "invalid-amount"
    assert balanced.get(relative(debit["refunds_uri"])).json()["total"] == 0


def test_refund_goes_to_the_card_the_debit_was_drawn_from(balanced, debit):
    # "Refund after changed source": the mock models no funding sources to change, so what is
    # checked is the half it can: the refund's debit still names the card it was drawn from.
    created = balanced.post(f"{MP}/refunds", json={"debit_uri": debit["uri"]}).json()
    assert created["debit"]["source_uri"] == debit["source_uri"]
