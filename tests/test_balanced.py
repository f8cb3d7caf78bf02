"""Balanced Payments v1: refunds of debits, on both path families, with the vendor's rules."""

from __future__ import annotations

import re

import httpx
import pytest

MP = "/marketplaces/MP"
REQUEST_ID = re.compile(r"^OHM[0-9A-Za-z]{16,34}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def marketplace(marketplace_id: str, *accounts: dict, name: str = "Shop") -> dict:
    """A fixtures document with one Balanced marketplace."""
    entry = {"id": marketplace_id, "name": name, "accounts": list(accounts)}
    return {"balanced": {"marketplaces": [entry]}}


def account(account_id: str, *debits: dict) -> dict:
    return {"id": account_id, "debits": list(debits)}


def debit_seed(debit_id: str, amount: int, **fields) -> dict:
    return {"id": debit_id, "amount": amount, **fields}


def assert_balanced_error(response: httpx.Response, status: int, category_code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {
        "status",
        "status_code",
        "category_code",
        "category_type",
        "description",
        "request_id",
        "additional",
        "extras",
    }
    assert body["status_code"] == status
    assert body["category_code"] == category_code
    assert REQUEST_ID.match(body["request_id"])
    assert body["request_id"] in body["description"]
    return body


def debit(client, amount: int, account: str = "AC1", **fields) -> dict:
    response = client.post(f"{MP}/accounts/{account}/debits", json={"amount": amount, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def refund(client, debit_uri: str, **fields) -> httpx.Response:
    return client.post(f"{MP}/refunds", json={"debit_uri": debit_uri, **fields})


def refund_ids(client, path: str) -> list[str]:
    return [r["id"] for r in client.get(f"{path}?limit=100").json()["items"]]


@pytest.fixture(params=["marketplace", "account"])
def refund_path(request):
    """The path of one refund under each path family."""

    def path(refund_id: str, account: str = "AC1") -> str:
        if request.param == "marketplace":
            return f"{MP}/refunds/{refund_id}"
        return f"{MP}/accounts/{account}/refunds/{refund_id}"

    return path


# Refund a debit --------------------------------------------------------------------------------


def test_refund_reverses_the_fee_as_the_vendor_sample_does(balanced, seed):
    seed(
        marketplace(
            "MP",
            account("AC1", debit_seed("WD1", 1254, fee=43, description="abc123")),
            name="Tests",
        )
    )
    response = refund(balanced, "/v1/marketplaces/MP/debits/WD1", amount=1234, description="abc123")
    assert response.status_code == 201
    body = response.json()
    assert (body["amount"], body["fee"], body["description"]) == (1234, -43, "abc123")
    assert (
        body["appears_on_statement_as"] == body["debit"]["appears_on_statement_as"] == "PND*TESTS"
    )
    assert re.match(r"^RF\d{3}-\d{3}-\d{4}$", body["transaction_number"])
    assert body["id"].startswith("RF") and TIMESTAMP.match(body["created_at"])
    assert body["uri"] == f"/v1/marketplaces/MP/refunds/{body['id']}"
    assert body["account"]["id"] == "AC1" and body["debit"]["id"] == "WD1"
    assert body["debit"]["fee"] == 43 and body["meta"] == {}


def test_amounts_up_to_the_javascript_bound_stay_exact_integer_cents(balanced, buyer):
    # A generated request once found that a debit past 64 bits came back (and was refunded) in
    # floats; the contract now bounds every integer at 2^53-1, what a JavaScript client holds.
    largest = 2**53 - 1
    made = debit(balanced, largest)
    refunded = refund(balanced, made["uri"], amount=1).json()
    assert (refunded["amount"], type(refunded["fee"])) == (1, int)
    listed = balanced.get(f"{MP}/accounts/AC1/debits").json()["items"]
    assert [(d["amount"], d["fee"]) for d in listed] == [(largest, made["fee"])]
    assert isinstance(made["fee"], int)
    too_large = balanced.post(f"{MP}/accounts/AC1/debits", json={"amount": largest + 1})
    assert_balanced_error(too_large, 400, "request")
    assert balanced.get(f"{MP}/accounts/AC1/debits").json()["total"] == 1


def test_refund_without_amount_refunds_the_whole_remainder(balanced, buyer):
    made = debit(balanced, 431)
    assert made["fee"] == 15  # 3.5 %, rounded down
    first = refund(balanced, made["uri"], amount=31).json()
    rest = refund(balanced, made["uri"]).json()
    assert (first["amount"], rest["amount"]) == (31, 400)
    assert first["fee"] + rest["fee"] == -15


def test_partial_refunds_never_reverse_more_fee_than_the_debit_had(balanced, seed):
    seed(marketplace("MP", account("AC1", debit_seed("WD1", 1000, fee=35))))
    uri = "/v1/marketplaces/MP/debits/WD1"
    fees = [refund(balanced, uri, amount=amount).json()["fee"] for amount in (1, 1, 333, 3, 662)]
    assert all(fee <= 0 for fee in fees)
    assert fees[:2] == [-1, 0]  # ceil(35 x 1/1000) = 1, then ceil(35 x 2/1000) = 1 again
    assert sum(fees) == -35


def test_refund_more_than_the_remainder_is_invalid_amount_and_changes_nothing(balanced, buyer):
    made = debit(balanced, 1000)
    refund(balanced, made["uri"], amount=600)
    body = assert_balanced_error(refund(balanced, made["uri"], amount=401), 400, "invalid-amount")
    assert body["category_type"] == "request"
    assert "400" in body["description"]
    assert len(refund_ids(balanced, f"{MP}/debits/{made['id']}/refunds")) == 1
    assert refund(balanced, made["uri"], amount=400).status_code == 201


def test_fully_refunded_debit_is_debit_already_refunded(balanced, buyer):
    made = debit(balanced, 500)
    refund(balanced, made["uri"])
    for amount in ({}, {"amount": 1}):
        body = assert_balanced_error(
            refund(balanced, made["uri"], **amount), 409, "debit-already-refunded"
        )
        assert body["category_type"] == "logical"


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": 0},
        {"amount": 12.5},
        {"amount": "12"},
        {"meta": {"nested": {"a": "b"}}},
        {"meta": {"number": 1}},
        {"meta": ["a"]},
        {"description": 7},
    ],
)
def test_refund_fields_outside_the_contract_are_refused(balanced, buyer, fields):
    made = debit(balanced, 500)
    assert_balanced_error(refund(balanced, made["uri"], **fields), 400, "request")
    assert refund_ids(balanced, f"{MP}/refunds") == []


def test_refund_a_debit_needs_a_debit_uri_that_names_a_debit_of_this_marketplace(
    balanced, buyer, seed
):
    seed(marketplace("OTHER", account("AC9", debit_seed("WD9", 100))))
    assert_balanced_error(balanced.post(f"{MP}/refunds", json={"amount": 1}), 400, "request")
    # The documented debit-not-found: 409, logical (the v1 error page at 92339dc).
    for uri in (
        "/v1/debits/WD9",
        "/v1/marketplaces/MP/debits/nope",
        "/v1/marketplaces/OTHER/debits/WD9",
    ):
        body = assert_balanced_error(refund(balanced, uri), 409, "debit-not-found")
        assert body["category_type"] == "logical"
    assert_balanced_error(
        balanced.post(
            "/marketplaces/nope/refunds", json={"debit_uri": "/v1/marketplaces/nope/debits/x"}
        ),
        404,
        "not-found",
    )


# Refund an account ------------------------------------------------------------------------------


def test_refund_an_account_with_a_debit_uri(balanced, buyer):
    made = debit(balanced, 800)
    response = balanced.post(
        f"{MP}/accounts/AC1/refunds", json={"debit_uri": made["uri"], "amount": 300}
    )
    assert response.status_code == 201
    assert response.json()["debit"]["id"] == made["id"]


def test_refund_an_account_without_a_debit_uri_takes_its_latest_refundable_debit(balanced, buyer):
    older = debit(balanced, 100)
    newer = debit(balanced, 200)
    first = balanced.post(f"{MP}/accounts/AC1/refunds", json={}).json()
    assert (first["debit"]["id"], first["amount"]) == (newer["id"], 200)
    second = balanced.post(f"{MP}/accounts/AC1/refunds", json={"amount": 40}).json()
    assert second["debit"]["id"] == older["id"]
    balanced.post(f"{MP}/accounts/AC1/refunds", json={})
    assert_balanced_error(
        balanced.post(f"{MP}/accounts/AC1/refunds", json={}), 409, "debit-already-refunded"
    )


def test_refund_an_account_with_no_debit_or_another_accounts_debit_is_refused(
    balanced, buyer, seed
):
    body = assert_balanced_error(
        balanced.post(f"{MP}/accounts/AC1/refunds", json={}), 400, "no-refundable-debit"
    )
    assert body["category_type"] == "logical"
    seed(marketplace("MP2", account("AC2"), account("AC3", debit_seed("WD3", 10))))
    response = balanced.post(
        "/marketplaces/MP2/accounts/AC2/refunds",
        json={"debit_uri": "/v1/marketplaces/MP2/debits/WD3"},
    )
    assert_balanced_error(response, 409, "debit-not-found")  # not a debit of this account
    assert_balanced_error(balanced.post(f"{MP}/accounts/nobody/refunds", json={}), 404, "not-found")


# Retrieve, update, list -------------------------------------------------------------------------


def test_refund_can_be_retrieved_on_both_path_families(balanced, buyer, refund_path):
    created = refund(balanced, debit(balanced, 300)["uri"], amount=120).json()
    fetched = balanced.get(refund_path(created["id"]))
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_refund_under_another_account_or_marketplace_is_not_found(balanced, buyer, seed):
    seed(marketplace("MP3"))
    created = refund(balanced, debit(balanced, 300)["uri"]).json()
    balanced.get(f"{MP}/accounts/AC1")  # exists
    seed(marketplace("MP4", account("AC4")))
    assert_balanced_error(
        balanced.get(f"/marketplaces/MP4/accounts/AC4/refunds/{created['id']}"), 404, "not-found"
    )
    assert_balanced_error(
        balanced.get(f"/marketplaces/MP3/refunds/{created['id']}"), 404, "not-found"
    )
    assert_balanced_error(balanced.get(f"{MP}/refunds/RFnothing"), 404, "not-found")


def test_update_round_trips_description_and_meta_on_both_path_families(
    balanced, buyer, refund_path
):
    created = refund(balanced, debit(balanced, 300)["uri"], description="abc123").json()
    path = refund_path(created["id"])
    changed = {"meta": {"my-id": "0987654321"}, "description": "my new description"}
    response = balanced.request("PUT", path, json=changed)
    assert response.status_code == 200
    assert response.json()["meta"] == {"my-id": "0987654321"}
    assert response.json()["description"] == "my new description"
    again = balanced.request("PUT", path, json={"meta": {"other": "x"}}).json()
    assert again["meta"] == {"other": "x"}  # meta is replaced as a whole
    assert again["description"] == "my new description"  # left out, so kept
    assert balanced.get(path).json() == again
    assert {k: again[k] for k in ("amount", "fee", "id")} == {
        k: created[k] for k in ("amount", "fee", "id")
    }


@pytest.mark.parametrize("body", [{"meta": {"a": {"b": "c"}}}, {"meta": "x"}])
def test_an_update_with_a_malformed_meta_is_refused(balanced, buyer, body):
    created = refund(balanced, debit(balanced, 300)["uri"]).json()
    response = balanced.request("PUT", f"{MP}/refunds/{created['id']}", json=body)
    assert_balanced_error(response, 400, "request")
    assert balanced.get(f"{MP}/refunds/{created['id']}").json() == created


def test_an_update_changes_only_description_and_meta_whatever_else_it_sends(balanced, buyer):
    # The v1 example sends the refund back whole: the rest is accepted and changes nothing.
    created = refund(balanced, debit(balanced, 300)["uri"]).json()
    response = balanced.request(
        "PUT", f"{MP}/refunds/{created['id']}", json={"amount": 1, "fee": None, "id": "RFx"}
    )
    assert response.status_code == 200
    assert balanced.get(f"{MP}/refunds/{created['id']}").json() == created


def test_update_under_another_account_is_not_found(balanced, seed):
    seed(marketplace("MP", account("AC1", debit_seed("WD1", 100)), account("AC2")))
    created = refund(balanced, "/v1/marketplaces/MP/debits/WD1").json()
    response = balanced.request(
        "PUT", f"{MP}/accounts/AC2/refunds/{created['id']}", json={"description": "x"}
    )
    assert_balanced_error(response, 404, "not-found")


def test_lists_hold_only_their_accounts_or_debits_refunds(balanced, seed):
    seed(
        marketplace(
            "MP",
            account("AC1", debit_seed("WD1", 100), debit_seed("WD2", 100)),
            account("AC2", debit_seed("WD3", 100)),
        )
    )
    ids = {
        d: refund(balanced, f"/v1/marketplaces/MP/debits/{d}", amount=10).json()["id"]
        for d in ("WD1", "WD2", "WD3")
    }
    assert refund_ids(balanced, f"{MP}/refunds") == [ids["WD1"], ids["WD2"], ids["WD3"]]
    assert refund_ids(balanced, f"{MP}/accounts/AC1/refunds") == [ids["WD1"], ids["WD2"]]
    assert refund_ids(balanced, f"{MP}/accounts/AC2/refunds") == [ids["WD3"]]
    assert refund_ids(balanced, f"{MP}/debits/WD2/refunds") == [ids["WD2"]]
    # One page, three debits of two accounts: each refund embeds its own.
    embedded = [
        (item["account"]["id"], item["debit"]["id"], item["debit"]["amount"])
        for item in balanced.get(f"{MP}/refunds").json()["items"]
    ]
    assert embedded == [("AC1", "WD1", 100), ("AC1", "WD2", 100), ("AC2", "WD3", 100)]


def test_following_the_links_walks_a_25_refund_list_page_by_page(balanced, buyer):
    made = debit(balanced, 10_000)
    created = [refund(balanced, made["uri"], amount=7).json()["id"] for _ in range(25)]
    page = balanced.get(f"{MP}/refunds?limit=10").json()
    assert page["first_uri"] == "/v1/marketplaces/MP/refunds?limit=10&offset=0"
    assert page["last_uri"] == "/v1/marketplaces/MP/refunds?limit=10&offset=20"
    assert page["previous_uri"] is None
    seen, pages = [], []
    while True:
        assert (page["total"], page["limit"]) == (25, 10)
        assert balanced.get(page["uri"].removeprefix("/v1")).json() == page  # uri is this page
        seen += [item["id"] for item in page["items"]]
        pages.append(page)
        if page["next_uri"] is None:
            break
        page = balanced.get(page["next_uri"].removeprefix("/v1")).json()
    assert seen == created  # oldest first, nothing twice, nothing missed
    assert [len(p["items"]) for p in pages] == [10, 10, 5]
    assert pages[-1]["uri"] == pages[0]["last_uri"]
    back = balanced.get(pages[-1]["previous_uri"].removeprefix("/v1")).json()
    assert back == pages[1]
    assert balanced.get(back["first_uri"].removeprefix("/v1")).json() == pages[0]


def test_page_links_of_an_empty_and_an_unaligned_list(balanced, buyer):
    empty = balanced.get(f"{MP}/refunds").json()
    assert (empty["total"], empty["items"], empty["next_uri"], empty["previous_uri"]) == (
        0,
        [],
        None,
        None,
    )
    assert (
        empty["last_uri"] == empty["first_uri"] == "/v1/marketplaces/MP/refunds?limit=10&offset=0"
    )
    made = debit(balanced, 100)
    for _ in range(3):
        refund(balanced, made["uri"], amount=1)
    middle = balanced.get(f"{MP}/refunds?limit=2&offset=1").json()
    assert len(middle["items"]) == 2 and middle["next_uri"] is None
    assert middle["previous_uri"] == "/v1/marketplaces/MP/refunds?limit=2&offset=0"
    assert middle["last_uri"] == "/v1/marketplaces/MP/refunds?limit=2&offset=2"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=x"])
def test_paging_parameters_outside_the_contract_are_refused(balanced, buyer, query):
    assert_balanced_error(balanced.get(f"{MP}/refunds?{query}"), 400, "request")


def test_a_query_parameter_the_contract_does_not_name_is_ignored(balanced, buyer):
    # x-mock-unknown-query-parameters: the v1 documents do not say it is refused.
    assert balanced.get(f"{MP}/refunds?page=2").json() == balanced.get(f"{MP}/refunds").json()


# The resources a refund points to ------------------------------------------------------------


def test_every_link_a_refund_carries_to_a_modelled_resource_resolves(balanced, buyer):
    body = refund(balanced, debit(balanced, 300)["uri"]).json()
    links = [
        body["uri"],
        body["account"]["uri"],
        body["account"]["refunds_uri"],
        body["account"]["debits_uri"],
        body["debit"]["uri"],
        body["debit"]["refunds_uri"],
    ]
    for link in links:
        assert balanced.get(link.removeprefix("/v1")).status_code == 200, link


def test_debits_are_made_listed_and_retrieved(balanced, buyer):
    made = debit(
        balanced,
        2000,
        description="order 1",
        appears_on_statement_as="SHOP*ORDER1",
        meta={"o": "1"},
    )
    assert (made["amount"], made["fee"], made["appears_on_statement_as"]) == (
        2000,
        70,
        "SHOP*ORDER1",
    )
    assert re.match(r"^W\d{3}-\d{3}-\d{4}$", made["transaction_number"])
    assert TIMESTAMP.match(made["available_at"]) and made["available_at"] > made["created_at"]
    assert balanced.get(f"{MP}/debits/{made['id']}").json() == made
    assert [d["id"] for d in balanced.get(f"{MP}/accounts/AC1/debits").json()["items"]] == [
        made["id"]
    ]
    assert [d["id"] for d in balanced.get(f"{MP}/debits").json()["items"]] == [made["id"]]
    assert_balanced_error(
        balanced.post(f"{MP}/accounts/AC1/debits", json={"amount": 0}), 400, "request"
    )
    assert_balanced_error(
        balanced.post(
            f"{MP}/accounts/AC1/debits", json={"amount": 5, "appears_on_statement_as": "x" * 23}
        ),
        400,
        "request",
    )
    assert_balanced_error(balanced.get(f"{MP}/debits/WDnope"), 404, "not-found")


def test_marketplaces_and_accounts_are_listed_and_retrieved(balanced, buyer):
    ids = [m["id"] for m in balanced.get("/marketplaces").json()["items"]]
    assert ids == ["TEST-MPdemo", "MP"]
    marketplace = balanced.get(MP).json()
    assert marketplace["refunds_uri"] == "/v1/marketplaces/MP/refunds"
    accounts = balanced.get(f"{MP}/accounts").json()
    assert [a["id"] for a in accounts["items"]] == ["AC1"]
    assert balanced.get(f"{MP}/accounts/AC1").json() == accounts["items"][0]
    assert_balanced_error(balanced.get("/marketplaces/nope"), 404, "not-found")
    assert_balanced_error(balanced.get(f"{MP}/accounts/nope"), 404, "not-found")


def test_demo_marketplace_has_refundable_debits(balanced):
    debits = balanced.get("/marketplaces/TEST-MPdemo/accounts/ACdemobuyer/debits").json()["items"]
    assert [(d["id"], d["amount"], d["fee"]) for d in debits] == [
        ("WDdemo1254", 1254, 43),
        ("WDdemo431", 431, 15),
        ("WDdemo5000", 5000, 175),
    ]
    assert debits[0]["appears_on_statement_as"] == "PND*TESTS"


# Errors the framework finds, in Balanced's shape --------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, ("wrong-secret", ""), ("demo_app_token", "demo_access_token")],
    ids=["none", "wrong-secret", "marqeta-credentials"],
)
def test_missing_or_wrong_api_key_is_unauthorized(balanced, auth):
    body = assert_balanced_error(
        balanced.request("GET", "/marketplaces", auth=auth), 401, "authentication-required"
    )
    assert body["status"] == "Unauthorized"


def test_malformed_or_non_json_body_is_refused_in_balanced_shape(balanced, buyer):
    made = debit(balanced, 100)
    url = f"{MP}/refunds"
    assert_balanced_error(
        balanced.post(url, content="{", headers={"content-type": "application/json"}),
        400,
        "request",
    )
    assert_balanced_error(
        balanced.post(
            url, content=b'{"debit_uri": "\xff"}', headers={"content-type": "application/json"}
        ),
        400,
        "request",
    )
    assert_balanced_error(
        balanced.post(
            url, content=f'{{"debit_uri": "{made["uri"]}"}}', headers={"content-type": "text/plain"}
        ),
        415,
        "unsupported-media-type",
    )
    assert refund_ids(balanced, url) == []


def test_unknown_route_and_wrong_method_answer_in_balanced_shape(balanced):
    assert_balanced_error(balanced.http.get("/nothing/here"), 404, "not-found")
    response = balanced.http.delete("/marketplaces/MP/refunds")
    assert_balanced_error(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET, POST"
    update = balanced.http.post("/marketplaces/MP/refunds/RF1")
    assert_balanced_error(update, 405, "method-not-allowed")
    assert update.headers["allow"] == "GET, PUT"
