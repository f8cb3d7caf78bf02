"""PUT /__mock__/state takes only what the API's rules could have made, all or nothing: a state
it refuses changes nothing, and every later request still answers."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from tests.support import DEMO_AUTH, JSON, serve

Document = dict[str, Any]


@pytest.fixture(scope="module")
def mock() -> Iterator[str]:
    with serve(MockConfig()) as live:
        yield live.root


@pytest.fixture
def exported(mock: str) -> Document:
    """The demo state with a refund of each API in it."""
    httpx.post(f"{mock}/__mock__/reset", headers=JSON).raise_for_status()
    made = [
        httpx.post(
            f"{mock}/v3/accounts/demo_account_credit_balance/refunds",
            json={"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1},
            auth=DEMO_AUTH,
        ),
        httpx.post(
            f"{mock}/v1/marketplaces/TEST-MPdemo/refunds",
            json={"debit_uri": "/v1/marketplaces/TEST-MPdemo/debits/WDdemo1254", "amount": 100},
            auth=(DEMO_BALANCED_SECRET, ""),
        ),
    ]
    assert [answer.status_code for answer in made] == [201, 201], [a.text for a in made]
    return httpx.get(f"{mock}/__mock__/state").json()


def first(document: Document, kind: str) -> dict[str, Any]:
    return next(entry for entry in document["records"] if entry["kind"] == kind)


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


def set_field(kind: str, name: str, value: Any) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        first(document, kind)["record"][name] = value

    return change


def remove_kind(kind: str) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        document["records"] = [entry for entry in document["records"] if entry["kind"] != kind]

    return change


def rekey(document: Document) -> None:
    first(document, "marqeta.account")["key"] = "not_its_token"


def unowned(document: Document) -> None:
    first(document, "marqeta.refund")["owners"] = []


REFUSED = {
    "NaN balance": set_field("marqeta.account", "current_balance", "NaN"),
    "sNaN balance": set_field("marqeta.account", "current_balance", "sNaN"),
    "Infinity balance": set_field("marqeta.account", "current_balance", "Infinity"),
    "1E+999999 balance": set_field("marqeta.account", "current_balance", "1E+999999"),
    "a field nested 300 deep": set_field("marqeta.account", "status", nested(300)),
    "a status that is a list": set_field("marqeta.refund", "status", ["PENDING"]),
    "escrow of -10^30": set_field("balanced.marketplace", "in_escrow", -(10**30)),
    "a naive time": set_field("marqeta.account", "created_at", "2026-01-01T00:00:00"),
    "a key that is not the token": rekey,
    "a refund listed under no owner": unowned,
    "a Balanced refund of a missing debit": remove_kind("balanced.debit"),
    "a Marqeta refund of a missing account": remove_kind("marqeta.account"),
}


@pytest.mark.parametrize("change", REFUSED.values(), ids=list(REFUSED))
def test_a_state_the_rules_could_not_make_is_refused_and_changes_nothing(
    mock: str, exported: Document, change: Callable[[Document], None]
):
    broken = copy.deepcopy(exported)
    change(broken)
    refused = httpx.put(f"{mock}/__mock__/state", json=broken)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_message"].startswith("records")
    assert httpx.get(f"{mock}/__mock__/state").json() == exported
    # Every later request still answers.
    account = httpx.get(f"{mock}/v3/accounts/demo_account_credit_balance", auth=DEMO_AUTH)
    assert account.status_code == 200


def test_an_exported_state_imports_back_unchanged(mock: str, exported: Document):
    answered = httpx.put(f"{mock}/__mock__/state", json=exported)
    assert answered.status_code == 200, answered.text
    assert httpx.get(f"{mock}/__mock__/state").json() == exported
