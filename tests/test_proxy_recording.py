"""`refund-mock proxy --record FILE`: what a target's answers showed becomes the mock's state,
and `refund-mock --state FILE` starts on it, giving the same answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mock_server.app import MockConfig, build_app
from mock_server.proxy.recording import Recording
from tests.support import (
    AUTH,
    BASE,
    DEMO_AUTH,
    SettableClock,
    TickingClock,
    defective_target,
    in_process,
    serve,
    serve_app,
    with_mock,
)

ACCOUNT = "/v3/accounts/demo_account_credit_balance"
MARKETPLACE = "/v1/marketplaces/TEST-MPdemo"
BUYER = f"{MARKETPLACE}/accounts/ACdemobuyer"


def marqeta_session(app: httpx.Client) -> list[str]:
    """What a refund screen does against Marqeta; the GETs whose answers it shows last."""
    refund = {"token": "rec-1", "method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 5}
    assert app.post(f"{ACCOUNT}/refunds", json=refund).status_code == 201
    before = app.get(f"{ACCOUNT}/refunds/rec-1").json()  # then moved on: the latest must win
    moved = app.post(f"{ACCOUNT}/refunds/rec-1/transitions", json={"status": "PROCESSING"})
    assert moved.status_code == 201 and before["status"] != moved.json()["status"]
    balance_refund = {"method": "CHECK", "amount": 12.5, "description": "by post"}
    balance_refund["currency_code"] = "USD"
    assert app.post(f"{ACCOUNT}/creditbalancerefunds", json=balance_refund).status_code == 201
    return [
        "/v3/accounts",
        ACCOUNT,
        f"{ACCOUNT}/refunds",
        f"{ACCOUNT}/refunds?status=PROCESSING",
        f"{ACCOUNT}/refunds/rec-1",
        f"{ACCOUNT}/refunds/rec-1/transitions",
        f"{ACCOUNT}/journalentries",
        f"{ACCOUNT}/paymentsources",
        f"{ACCOUNT}/paymentsources/demo_payment_source_checking",
    ]


def balanced_session(app: httpx.Client) -> list[str]:
    """What a refund screen does against Balanced; the GETs whose answers it shows last."""
    debit = app.post(f"{BUYER}/debits", json={"amount": 900, "description": "rec"})
    assert debit.status_code == 201
    refunds_uri = debit.json()["refunds_uri"]
    refund = app.post(refunds_uri, json={"amount": 300, "description": "part"})
    assert refund.status_code == 201
    refund_uri = refund.json()["uri"]
    assert app.put(refund_uri, json={"description": "part, said again"}).status_code == 200
    assert app.post(f"{MARKETPLACE}/debits/WDdemo431/refunds").status_code == 201
    return [
        "/v1/marketplaces",
        MARKETPLACE,
        f"{MARKETPLACE}/accounts",
        BUYER,
        f"{BUYER}/debits",
        f"{MARKETPLACE}/debits",
        debit.json()["uri"],
        refunds_uri,
        f"{MARKETPLACE}/refunds",
        f"{BUYER}/refunds",
        refund_uri,
    ]


SESSIONS: dict[str, tuple[str, Callable[[httpx.Client], list[str]]]] = {
    "marqeta": ("/v3", marqeta_session),
    "balanced": ("/v1", balanced_session),
}


@pytest.mark.parametrize("api", sorted(SESSIONS))
def test_a_recording_restarts_the_mock_on_the_targets_data_with_the_same_answers(
    api: str, tmp_path: Path
) -> None:
    """Record a session through the proxy in front of a mock; a mock started on the file (no
    demo data) answers each GET as the target last did, and its rules go on from there."""
    base, session = SESSIONS[api]
    user, _, password = AUTH[api].partition(":")
    recording = tmp_path / "recorded.json"
    with (
        serve(MockConfig(clock=TickingClock())) as target,
        with_mock(f"{target.root}{base}", api=api, record=recording) as proxy,
        httpx.Client(base_url=proxy, auth=(user, password)) as app,
    ):
        shown = {}
        for path in session(app):
            answer = app.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert "x-mock-contract-violations" not in answer.headers
            shown[path] = answer.json()
    document = json.loads(recording.read_text())
    assert document["format"] == "refund-contract-kit/state" and document["records"]
    for secret in (user, password):  # no credential reaches the file
        assert not secret or secret not in recording.read_text()

    with in_process(MockConfig(demo=False, start_state=recording)) as mock:
        for path, body in shown.items():
            again = mock.request("GET", path, auth=(user, password))
            assert again.status_code == 200 and again.json() == body, path
        if api == "marqeta":  # the refund's next step, by the mock's own rules
            on = mock.request(
                "POST",
                f"{ACCOUNT}/refunds/rec-1/transitions",
                json={"status": "SUBMITTED"},
                auth=(user, password),
            )
            assert on.status_code == 201, on.text
        else:  # the debit's remainder is what its recorded refunds left of it: 900 - 300
            debit = next(d for d in shown[f"{BUYER}/debits"]["items"] if d["amount"] == 900)
            refund = debit["refunds_uri"]
            auth = (user, password)
            over = mock.request("POST", refund, json={"amount": 601}, auth=auth)
            assert over.status_code == 400 and "600 left to refund" in over.text, over.text
            rest = mock.request("POST", refund, json={"amount": 600}, auth=auth)
            assert rest.status_code == 201, rest.text


def test_only_contract_valid_successful_answers_are_recorded(tmp_path: Path) -> None:
    """An answer that breaks the contract is flagged, never recorded; an error is not state."""
    recording = tmp_path / "recorded.json"
    refund = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 5}
    with (
        serve_app(defective_target()) as target,
        with_mock(f"{target}/v3", record=recording) as proxy,
    ):
        httpx.get(f"{proxy}{ACCOUNT}", auth=DEMO_AUTH)  # not served there: a 404, not state
        broken = httpx.post(f"{proxy}{ACCOUNT}/refunds", json=refund, auth=DEMO_AUTH)
        assert broken.status_code == 201 and "x-mock-contract-violations" in broken.headers
    assert json.loads(recording.read_text())["records"] == []
    # The control: the same calls answered as the contract says are recorded, refund included.
    control = tmp_path / "control.json"
    with serve(MockConfig()) as correct, with_mock(f"{correct.root}/v3", record=control) as proxy:
        assert httpx.get(f"{proxy}{ACCOUNT}", auth=DEMO_AUTH).status_code == 200
        kept = httpx.post(f"{proxy}{ACCOUNT}/refunds", json=refund, auth=DEMO_AUTH)
        assert kept.status_code == 201 and "x-mock-contract-violations" not in kept.headers
    kinds = {record["kind"] for record in json.loads(control.read_text())["records"]}
    assert kinds == {"marqeta.account", "marqeta.refund"}


def test_a_record_naming_one_never_seen_or_seen_only_in_part_is_left_out_saying_why(
    tmp_path: Path,
) -> None:
    """The file must import: a refund whose account was never shown is left out, as is an
    account only ever seen in its light response (no balances)."""
    made = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 5}
    with serve(MockConfig(clock=TickingClock())) as target:
        refund = httpx.post(f"{target.root}{ACCOUNT}/refunds", json=made, auth=DEMO_AUTH).json()
        light = httpx.get(
            f"{target.root}/v3/accounts/demo_account_zero_balance",
            params={"light_response": "true"},
            auth=DEMO_AUTH,
        )
    recording = Recording(build_app(MockConfig()).apis["marqeta"], tmp_path / "recorded.json")
    recording.saw("retrieveRefund", 200, json.dumps(refund).encode())
    recording.saw("retrieveAccount", 200, light.content)
    recorded = recording.write()
    assert recorded.document["records"] == []
    said = "\n".join(recorded.left_out)
    assert f"marqeta.refund {refund['token']}: names account_token" in said
    assert "marqeta.account demo_account_zero_balance: only part of it was seen" in said


def test_the_mock_refuses_to_start_on_a_state_file_an_import_would_refuse(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text(json.dumps({"format": "refund-contract-kit/state", "version": 1, "records": 3}))
    with pytest.raises(ValueError, match="records: a list of records"):
        build_app(MockConfig(start_state=bad))
    account = {"token": "a", "status": "ACTIVE", "currency_code": "USD", "credit_limit": "1"}
    account |= {"current_balance": "0", "created_at": "2026-01-05T09:00:00.000000+00:00"}
    account["updated_at"] = account["created_at"]
    twice = {"kind": "marqeta.account", "key": "a", "owners": [""], "record": account}
    document = {"format": "refund-contract-kit/state", "version": 1, "records": [twice, twice]}
    bad.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"marqeta\.account 'a' already exists"):
        build_app(MockConfig(start_state=bad))


def test_records_a_list_cannot_tell_apart_by_time_keep_the_order_its_pages_showed(
    tmp_path: Path,
) -> None:
    """Accounts made in the same instant list by the order they were made in: the recording
    writes them so that the mock started on it lists them as the target did."""
    clock = SettableClock()
    clock.pinned = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    recording = tmp_path / "recorded.json"
    with (
        serve(MockConfig(clock=clock)) as target,
        with_mock(f"{target.root}/v3", record=recording) as proxy,
    ):
        shown = httpx.get(f"{proxy}/v3/accounts", auth=DEMO_AUTH).json()
    assert len({account["updated_time"] for account in shown["data"]}) == 1
    with in_process(MockConfig(demo=False, start_state=recording)) as mock:
        assert mock.request("GET", "/v3/accounts", auth=DEMO_AUTH).json() == shown


@pytest.mark.parametrize(
    ("api", "first", "listed", "size", "start", "key", "items"),
    [
        ("marqeta", [], "/v3/accounts", "count", "start_index", "token", "data"),
        # A debit is recorded with the marketplace and the account it names.
        (
            "balanced",
            [MARKETPLACE, f"{MARKETPLACE}/accounts?limit=100"],
            f"{MARKETPLACE}/debits",
            *("limit", "offset", "id", "items"),
        ),
    ],
)
def test_records_tied_in_time_on_different_pages_keep_the_order_of_the_whole_list(
    tmp_path: Path,
    api: str,
    first: list[str],
    listed: str,
    size: str,
    start: str,
    key: str,
    items: str,
) -> None:
    """An app pages through a list whose records were all made in one instant: the mock
    started on the recording lists them, whole and page by page, as the target did."""
    clock = SettableClock()
    clock.pinned = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    recording = tmp_path / "recorded.json"
    user, _, password = AUTH[api].partition(":")
    with serve(MockConfig(clock=clock)) as target:
        whole = httpx.get(f"{target.root}{listed}", params={size: 100}, auth=(user, password))
        order = [each[key] for each in whole.json()[items]]
        assert len(order) > 2  # more than one page of them
        with with_mock(f"{target.root}{BASE[api]}", api=api, record=recording) as proxy:
            for path in first:
                assert httpx.get(f"{proxy}{path}", auth=(user, password)).status_code == 200
            pages = [
                httpx.get(f"{proxy}{listed}", params={size: 2, start: at}, auth=(user, password))
                for at in range(0, len(order), 2)
            ]
    with in_process(MockConfig(demo=False, start_state=recording)) as mock:
        again = mock.request("GET", listed, params={size: 100}, auth=(user, password))
        assert [each[key] for each in again.json()[items]] == order
        for at, shown in zip(range(0, len(order), 2), pages, strict=True):
            replayed = mock.request(
                "GET", listed, params={size: 2, start: at}, auth=(user, password)
            )
            assert replayed.json() == shown.json()


def test_a_record_the_state_import_would_refuse_is_left_out_not_the_whole_file(tmp_path):
    """Balanced lets a debit's fee be null; the mock's debit holds a number: that debit (and
    what names it) is left out, saying why, and the rest is written."""
    recording = Recording(build_app(MockConfig()).apis["balanced"], tmp_path / "recorded.json")
    with serve(MockConfig()) as target:
        auth = (AUTH["balanced"].rstrip(":"), "")
        for operation, path in (
            ("retrieveMarketplace", "/v1/marketplaces/TEST-MPdemo"),
            ("retrieveAccount", BUYER),
            ("retrieveDebit", f"{MARKETPLACE}/debits/WDdemo431"),
        ):
            body = httpx.get(f"{target.root}{path}", auth=auth).json()
            if operation == "retrieveDebit":
                body["fee"] = None
            recording.saw(operation, 200, json.dumps(body).encode())
    recorded = recording.write()
    kinds = [record["kind"] for record in recorded.document["records"]]
    assert kinds == ["balanced.marketplace", "balanced.account"]
    said = "\n".join(recorded.left_out)
    assert "balanced.debit WDdemo431" in said and "fee is not a valid int: null" in said
