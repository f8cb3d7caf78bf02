"""What the Balanced v1 documents (balanced/balanced-api at 92339dc, resources/refunds.rst) send
and show, accepted and answered as published."""

from __future__ import annotations

import pytest

MP = "/marketplaces/MP"


def debit(client, amount: int = 1254) -> dict:
    response = client.post(f"{MP}/accounts/AC1/debits", json={"amount": amount})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("path", [f"{MP}/accounts/AC1/refunds", f"{MP}/refunds"])
def test_the_refund_an_account_example_body_is_accepted_as_published(balanced, buyer, path):
    made = debit(balanced)
    published = {
        "debit_uri": made["uri"].removeprefix("/"),  # "v1/marketplaces/...", as the docs write it
        "amount": 1234,
        "meta": {},
        "description": None,
    }
    response = balanced.post(path, json=published)
    assert response.status_code == 201, response.text
    assert (response.json()["amount"], response.json()["description"]) == (1234, None)


def test_the_update_a_refund_example_body_is_accepted_as_published(balanced, buyer):
    made = debit(balanced)
    refund = balanced.post(f"{MP}/refunds", json={"debit_uri": made["uri"], "amount": 1254})
    refund_id = refund.json()["id"]
    published = {  # the refund sent back whole, as the docs' example does
        "_type": "refund",
        "fee": None,
        "description": "my new description",
        "created_at": "2013-06-05T02:32:56.143051+00:00Z",
        "transaction_number": "RF475-479-2383",
        "amount": 1254,
        "_uris": {},
        "meta": {"my-id": "0987654321"},
        "appears_on_statement_as": "example.com",
        "id": refund_id,
    }
    for path in (f"{MP}/accounts/AC1/refunds/{refund_id}", f"{MP}/refunds/{refund_id}"):
        updated = balanced.put(path, json=published)
        assert updated.status_code == 200, updated.text
        body = updated.json()
        assert (body["description"], body["meta"]) == (
            "my new description",
            {"my-id": "0987654321"},
        )
        assert (body["amount"], body["transaction_number"]) != (1254, "RF475-479-2383")


def test_a_null_description_is_accepted_on_create_and_update(balanced, buyer):
    made = debit(balanced)
    refund = balanced.post(f"{MP}/refunds", json={"debit_uri": made["uri"], "description": None})
    assert refund.status_code == 201
    path = f"{MP}/refunds/{refund.json()['id']}"
    assert balanced.put(path, json={"description": None, "meta": {"k": "v"}}).status_code == 200


def test_resources_carry_the_fields_the_v1_examples_show(balanced, buyer):
    made = debit(balanced)
    refund = balanced.post(f"{MP}/refunds", json={"debit_uri": made["uri"]}).json()
    assert (refund["_type"], refund["_uris"]) == ("refund", {})
    assert {"account_name", "account_email_address"} <= set(refund)
    shown = refund["debit"]
    assert (shown["_type"], shown["status"], shown["on_behalf_of_uri"]) == (
        "debit",
        "succeeded",
        None,
    )
    assert shown["account_uri"] == f"/v1{MP}/accounts/AC1"
    assert shown["_uris"]["refunds_uri"] == {"_type": "page", "key": "refunds"}
    account = refund["account"]
    assert (account["_type"], account["customer_uri"]) == ("account", "/v1/customers/AC1")
    assert account["_uris"]["holds_uri"] == {"_type": "page", "key": "holds"}
    page = balanced.get(f"{MP}/refunds").json()
    assert (page["_type"], page["_uris"]) == ("page", {})
