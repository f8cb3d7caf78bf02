"""List pages splice in each record's answer as written when the record last changed
(mock_server.kept_answers): the page is byte for byte the one written record by record, and a
change by any path, in any session, reaches the next page."""

from __future__ import annotations

from datetime import UTC, datetime

from mock_server.balanced.handlers import BalancedShapes
from mock_server.balanced.handlers import page_json as balanced_page
from mock_server.json_codec import JSONIFIER
from mock_server.kept_answers import KeptAnswers
from mock_server.marqeta.handlers import MarqetaShapes
from mock_server.marqeta.handlers import page_json as marqeta_page
from mock_server.marqeta.service import ListQuery
from mock_server.sessions import SESSION_HEADER
from mock_server.spec import load_contract

MARQETA = load_contract("marqeta-credit.yaml")
BALANCED = load_contract("balanced-v1.yaml")


def _store(live_mock, session: dict[str, str]):
    """The test session's store, as the app holds it."""
    now = datetime.now(UTC).timestamp()
    return live_mock.app.sessions.state(session[SESSION_HEADER], now).store


def _written_record_by_record(live_mock, session, api: str, query) -> bytes:
    """The page as written before answers were kept: each model written by its shape."""
    service = live_mock.app.apis[api].runtime.service
    if api == "marqeta":
        page = service.refunds(_store(live_mock, session), *query)
        return JSONIFIER.dumps(marqeta_page(page, MarqetaShapes(MARQETA).refund.write))
    marketplace, path, limit = query
    page = service.refund_records(_store(live_mock, session), marketplace, 0, limit).decoded()
    shapes = BalancedShapes(BALANCED)
    return JSONIFIER.dumps(balanced_page(page, path, limit, shapes.refund_detail))


def test_a_marqeta_page_is_byte_for_byte_the_page_written_record_by_record(
    v3, mock_control, live_mock, session
):
    account = mock_control.post("/accounts", json={"current_balance": -1000}).json()["token"]
    for number, description in enumerate([None, "why", "ünïcode \u2028", None]):
        body = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": float(f"1.{number}5")}
        if description is not None:
            body["description"] = description
        assert v3.post(f"/accounts/{account}/refunds", json=body).status_code == 201
    path = f"/accounts/{account}/refunds?count=10&sort_by=-lastModifiedTime"
    first, again = v3.get(path), v3.get(path)  # written, then kept
    expected = _written_record_by_record(
        live_mock, session, "marqeta", (account, ListQuery(10, 0, "-lastModifiedTime"))
    )
    assert first.content == again.content == expected
    assert len(first.json()["data"]) == 4

    # A transition reaches the next page, kept or not.
    refund = first.json()["data"][0]["token"]
    cancel = {"status": "CANCELLED"}
    moved = v3.post(f"/accounts/{account}/refunds/{refund}/transitions", json=cancel)
    assert moved.status_code == 201, moved.text
    after = v3.get(path)
    assert after.json()["data"][0]["status"] == "CANCELLED"
    assert after.content == _written_record_by_record(
        live_mock, session, "marqeta", (account, ListQuery(10, 0, "-lastModifiedTime"))
    )


def test_a_balanced_page_follows_changes_to_the_refunds_and_to_what_they_embed(
    balanced, mock_control, seed, live_mock, session
):
    seed(
        {
            "balanced": {
                "marketplaces": [
                    {
                        "id": "MP",
                        "name": "Shop",
                        "accounts": [
                            {
                                "id": "AC1",
                                "name": "Ann",
                                "email_address": "ann@example.com",
                                "debits": [{"id": "WD1", "amount": 5000}],
                            },
                            {"id": "AC2", "debits": [{"id": "WD2", "amount": 5000}]},
                        ],
                    }
                ]
            }
        }
    )
    for debit in ("WD1", "WD2", "WD1"):
        body = {"debit_uri": f"/v1/marketplaces/MP/debits/{debit}", "amount": 100}
        assert balanced.post("/marketplaces/MP/refunds", json=body).status_code == 201
    query = ("MP", "/v1/marketplaces/MP/refunds", 10)

    def page() -> bytes:
        answer = balanced.get("/marketplaces/MP/refunds?limit=10")
        assert answer.status_code == 200
        assert answer.content == _written_record_by_record(live_mock, session, "balanced", query)
        return answer.content

    assert page() == page()  # written, then kept

    # The refund itself changes.
    first = balanced.get("/marketplaces/MP/refunds?limit=10").json()["items"][0]["id"]
    changed = balanced.put(f"/marketplaces/MP/refunds/{first}", json={"description": "late"})
    assert changed.status_code == 200, changed.text
    assert b'"description":"late"' in page()
    # Equal records serialised differently (meta's keys in another order) are written anew.
    for meta in ({"b": "2", "a": "1"}, {"a": "1", "b": "2"}):
        changed = balanced.put(f"/marketplaces/MP/refunds/{first}", json={"meta": meta})
        assert changed.status_code == 200, changed.text
        page()

    # The debit and the account it embeds change (a succeeded debit is final through the API,
    # so both are written straight into the store, as a state import or another replica
    # would): every refund of that debit and that account shows it, the others do not.
    store = _store(live_mock, session)
    with store.transaction() as tx:
        debit = tx.get("balanced.debit", "WD1")
        tx.replace("balanced.debit", "WD1", debit | {"description": "changed"})
    items = balanced.get("/marketplaces/MP/refunds?limit=10").json()["items"]
    assert [item["debit"].get("description") for item in items] == ["changed", None, "changed"]
    page()
    with store.transaction() as tx:
        tx.replace("balanced.account", "AC1", tx.get("balanced.account", "AC1") | {"name": "Bo"})
    items = balanced.get("/marketplaces/MP/refunds?limit=10").json()["items"]
    assert [item["account_name"] for item in items] == ["Bo", None, "Bo"]
    assert items[0]["account"]["name"] == "Bo"
    page()


def test_sessions_holding_the_same_keys_each_get_their_own_answers(v3, mock_control, session):
    # Every session seeds the same demo tokens: answers are kept by what they were written
    # from, so one session's refund never answers for another's.
    other = {SESSION_HEADER: session[SESSION_HEADER] + "-other"}  # deleted after the test
    account = "same-account"
    body = {"token": "same-in-both", "method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}
    for headers in ({}, other):
        opened = {"token": account, "current_balance": -100}
        assert mock_control.post("/accounts", json=opened, headers=headers).status_code == 201
        made = v3.post(f"/accounts/{account}/refunds", json=body, headers=headers)
        assert made.status_code == 201, made.text
    path = f"/accounts/{account}/refunds?count=100"
    mine = v3.get(path).json()["data"]
    theirs_before = v3.get(path, headers=other).json()["data"]
    assert [refund["token"] for refund in mine] == [refund["token"] for refund in theirs_before]
    cancel = {"status": "CANCELLED"}
    moved = v3.post(f"/accounts/{account}/refunds/same-in-both/transitions", json=cancel)
    assert moved.status_code == 201, moved.text
    statuses = {refund["token"]: refund["status"] for refund in v3.get(path).json()["data"]}
    theirs = {refund["token"]: refund for refund in v3.get(path, headers=other).json()["data"]}
    assert statuses["same-in-both"] == "CANCELLED"
    assert theirs["same-in-both"]["status"] == "PENDING"
    assert list(theirs.values()) == theirs_before


def test_kept_answers_are_bounded_and_a_record_beyond_them_is_written_again():
    writes: list[str] = []

    def write(record, *_embedded):
        writes.append(record["id"])
        return {"id": record["id"], "v": record["v"]}

    kept = KeptAnswers(write, key="id", size=2)
    for key in ("a", "b", "c"):
        kept.answer({"id": key, "v": 1})
    assert len(kept) == 2 and writes == ["a", "b", "c"]
    kept.answer({"id": "c", "v": 1})  # kept: not written again
    kept.answer({"id": "a", "v": 1})  # the oldest went first: written again
    assert writes == ["a", "b", "c", "a"]
    assert kept.text({"id": "a", "v": 2}) == '{"id":"a","v":2}'  # changed: written anew
    assert kept.text({"id": "a", "v": 2}, "embedded") == '{"id":"a","v":2}'
    assert writes == ["a", "b", "c", "a", "a", "a"]  # what it embeds is part of what it is
