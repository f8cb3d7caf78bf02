"""Marqeta Credit behaviour a schema cannot express: state, arithmetic, lifecycle, lists."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from conformance.apis import APIS
from conformance.fixtures import NotApplicable, SetupData
from conformance.http import ContractClient
from conformance.vendors.marqeta import MarqetaSetup

pytestmark = pytest.mark.conformance_api("marqeta")

REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND"}
BALANCE_REFUND = {"method": "CHECK", "description": "conformance", "currency_code": "USD"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
LIFECYCLE = APIS["marqeta"].contract["components"]["schemas"]["RefundStatus"]["x-mock-lifecycle"]
# The first two moves along the forward path from a new refund's status.
FIRST_MOVE, SECOND_MOVE = LIFECYCLE["forward"][1:3]
ONE_CENT = Decimal("0.01")


def balance(client: ContractClient, account: str) -> Decimal:
    return Decimal(str(client.get(f"/accounts/{account}").json()["current_balance"]))


def create(client: ContractClient, account: str, **fields: Any) -> dict[str, Any]:
    response = client.post(f"/accounts/{account}/refunds", json={**REFUND, **fields})
    assert response.status_code == 201, f"create refund answered {response.status_code}"
    created: dict[str, Any] = response.json()
    return created


def transition(
    client: ContractClient, account: str, refund: str, status: str, **fields: Any
) -> httpx.Response:
    return client.post(
        f"/accounts/{account}/refunds/{refund}/transitions", json={"status": status, **fields}
    )


def listed(client: ContractClient, account: str, query: str = "") -> list[dict[str, Any]]:
    page: dict[str, Any] = client.get(f"/accounts/{account}/refunds?count=100&{query}").json()
    return list(page["data"])


def accounts(setup: SetupData) -> MarqetaSetup:
    found: MarqetaSetup = setup.vendor("marqeta")
    return found


def exact_account(setup: SetupData, current_balance: str) -> str:
    if not setup.can_create:
        raise NotApplicable("needs an account with an exact balance, which only the mock can make")
    return accounts(setup).account(Decimal(current_balance))


def paths_from_a_new_refund() -> dict[str, list[str]]:
    """Each status a new refund can reach, and the statuses it moves through (shortest path)."""
    paths: dict[str, list[str]] = {LIFECYCLE["initial"]: []}
    frontier = [LIFECYCLE["initial"]]
    while frontier:
        current = frontier.pop(0)
        for following in LIFECYCLE["transitions"][current]:
            if following not in paths:
                paths[following] = [*paths[current], following]
                frontier.append(following)
    return paths


def path_to(target: str) -> list[str]:
    """The statuses a new refund moves through to reach ``target`` (shortest path)."""
    return paths_from_a_new_refund()[target]


# Read after write ------------------------------------------------------------------------------


@pytest.mark.mutates
def test_refund_read_back_equals_what_create_returned(
    client: ContractClient, setup: SetupData
) -> None:
    """A refund read back equals what create returned."""
    account = accounts(setup).account()
    created = create(client, account, amount=0.01, description="read back")
    fetched = client.get(f"/accounts/{account}/refunds/{created['token']}").json()
    assert fetched == created, f"read back {fetched}, create returned {created}"


@pytest.mark.mutates
def test_list_contains_the_refunds_created(client: ContractClient, setup: SetupData) -> None:
    """A list of refunds contains the refunds created."""
    account = accounts(setup).account()
    tokens = {create(client, account, amount=0.01)["token"] for _ in range(2)}
    newest = {refund["token"] for refund in listed(client, account, "sort_by=-lastModifiedTime")}
    assert tokens <= newest, f"created {tokens}, the newest-first list has {newest}"


@pytest.mark.mutates
def test_pages_cover_the_list_without_gaps_or_repeats(
    client: ContractClient, setup: SetupData
) -> None:
    """Pages (count, start_index, end_index, is_more) walk the whole list once."""
    account = accounts(setup).account()
    created = {create(client, account, amount=0.01)["token"] for _ in range(7)}
    seen: list[str] = []
    start = 0
    # The refunds in their first status: the list an account reused run after run keeps short
    # (earlier runs gave theirs back).
    initial = f"statuses={LIFECYCLE['initial']}"
    for _ in range(100):
        page = client.get(
            f"/accounts/{account}/refunds?count=3&start_index={start}&{initial}"
        ).json()
        assert page["start_index"] == start, f"asked start_index {start}, got {page['start_index']}"
        assert page["count"] == len(page["data"]) <= 3, f"page of {page['count']}"
        seen += [refund["token"] for refund in page["data"]]
        if not page["is_more"]:
            break
        assert page["count"] == 3, "is_more is true after a short page"
        start += 3
    assert len(seen) == len(set(seen)), f"a refund appears on two pages: {seen}"
    assert created <= set(seen), f"created {created - set(seen)} missing from the pages"


# Order and filters -------------------------------------------------------------------------------


@pytest.mark.mutates
def test_sort_by_last_modified_time_in_both_directions(
    client: ContractClient, setup: SetupData
) -> None:
    """sort_by=lastModifiedTime sorts ascending, -lastModifiedTime descending."""
    account = accounts(setup).account()
    first = create(client, account, amount=0.01)["token"]
    second = create(client, account, amount=0.01)["token"]
    time.sleep(1.1)  # timestamps have whole seconds: make the change strictly later
    assert transition(client, account, first, FIRST_MOVE).status_code == 201
    # Only refunds still in play: an account that earlier runs used holds hundreds of refunds
    # they gave back, more than one page of the oldest first.
    live = f"statuses={LIFECYCLE['initial']}&statuses={FIRST_MOVE}"
    descending = [r["token"] for r in listed(client, account, f"{live}&sort_by=-lastModifiedTime")]
    ascending = [r["token"] for r in listed(client, account, f"{live}&sort_by=lastModifiedTime")]
    assert descending.index(first) < descending.index(second), "descending: changed one first"
    assert ascending.index(first) > ascending.index(second), "ascending: changed one last"


@pytest.mark.mutates
def test_statuses_filter_returns_only_those_statuses(
    client: ContractClient, setup: SetupData
) -> None:
    """statuses= returns the refunds in those statuses and no others."""
    account = accounts(setup).account()
    moved = create(client, account, amount=0.01)["token"]
    stayed = create(client, account, amount=0.01)["token"]
    assert transition(client, account, moved, FIRST_MOVE).status_code == 201
    found = listed(client, account, f"statuses={FIRST_MOVE}")
    tokens = {refund["token"] for refund in found}
    assert moved in tokens and stayed not in tokens, f"statuses={FIRST_MOVE} listed {tokens}"
    assert {refund["status"] for refund in found} <= {FIRST_MOVE}


@pytest.mark.mutates
def test_date_filters_are_inclusive_days_of_created_time(
    client: ContractClient, setup: SetupData
) -> None:
    """start_date and end_date include the refunds created on those days, and only those."""
    account = accounts(setup).account()
    refund = create(client, account, amount=0.01)
    day = date.fromisoformat(refund["created_time"][:10])
    before, after = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()

    def tokens(query: str) -> set[str]:
        return {r["token"] for r in listed(client, account, query)}

    assert refund["token"] in tokens(f"start_date={day}&end_date={day}"), "same day excluded"
    assert refund["token"] not in tokens(f"end_date={before}"), "end_date before included it"
    assert refund["token"] not in tokens(f"start_date={after}"), "start_date after included it"


# Lifecycle --------------------------------------------------------------------------------------


@pytest.mark.mutates
def test_each_documented_transition_is_accepted(client: ContractClient, setup: SetupData) -> None:
    """Every transition the contract's lifecycle allows is accepted and recorded."""
    account = accounts(setup).account()
    reachable = paths_from_a_new_refund()  # a status no new refund reaches cannot be tried
    for source, targets in LIFECYCLE["transitions"].items():
        for target in targets if source in reachable else ():
            refund = create(client, account, amount=0.01)["token"]
            for status in [*path_to(source), target]:
                response = transition(client, account, refund, status)
                assert response.status_code == 201, f"{status} refused ({response.status_code})"
                assert response.json()["status"] == status
            fetched = client.get(f"/accounts/{account}/refunds/{refund}").json()
            assert fetched["status"] == target
            history = client.get(
                f"/accounts/{account}/refunds/{refund}/transitions?sort_by=createdTime&count=100"
            ).json()["data"]
            moves = [t["status"] for t in history]
            assert moves == [*path_to(source), target], f"transition history {moves}"


@pytest.mark.mutates
def test_transitions_outside_the_lifecycle_are_refused_and_change_nothing(
    client: ContractClient, setup: SetupData
) -> None:
    """A transition the lifecycle does not allow is refused and leaves the refund as it was."""
    account = accounts(setup).account()
    statuses = APIS["marqeta"].contract["components"]["schemas"]["RefundStatus"]["enum"]
    for source in (LIFECYCLE["initial"], "CANCELLED", "COMPLETED"):
        refund = create(client, account, amount=0.01)["token"]
        for status in path_to(source):
            transition(client, account, refund, status)
        before = client.get(f"/accounts/{account}/refunds/{refund}").json()
        balance_before = balance(client, account)
        for target in statuses:
            if target in LIFECYCLE["transitions"][source]:
                continue
            response = transition(client, account, refund, target)
            assert 400 <= response.status_code < 500, f"{source} -> {target} was accepted"
        assert client.get(f"/accounts/{account}/refunds/{refund}").json() == before
        assert balance(client, account) == balance_before


# Money -----------------------------------------------------------------------------------------


@pytest.mark.mutates
def test_refund_beyond_the_credit_balance_is_refused(
    client: ContractClient, setup: SetupData
) -> None:
    """A refund larger than the credit balance is refused and moves nothing."""
    account = accounts(setup).account()
    before = balance(client, account)
    too_much = -before + ONE_CENT
    response = client.post(
        f"/accounts/{account}/refunds", json={**REFUND, "amount": float(too_much)}
    )
    assert 400 <= response.status_code < 500, f"refund of {too_much} on {before} accepted"
    balance_refund = client.post(
        f"/accounts/{account}/creditbalancerefunds",
        json={**BALANCE_REFUND, "amount": float(too_much)},
    )
    assert 400 <= balance_refund.status_code < 500, "balance refund past zero accepted"
    assert balance(client, account) == before


@pytest.mark.mutates
def test_refund_on_a_balance_that_is_not_negative_is_refused(
    client: ContractClient, setup: SetupData
) -> None:
    """No refund is possible when the balance is zero or owed to the issuer."""
    account = accounts(setup).account_with_balance_at_least_zero()
    before = balance(client, account)
    response = client.post(f"/accounts/{account}/refunds", json={**REFUND, "amount": 0.01})
    assert 400 <= response.status_code < 500, f"refund accepted on a balance of {before}"
    assert balance(client, account) == before


@pytest.mark.mutates
def test_largest_refund_brings_the_balance_to_exactly_zero(
    client: ContractClient, setup: SetupData
) -> None:
    """The largest refund is the credit balance, and it leaves exactly 0."""
    account = exact_account(setup, "-123.45")
    assert create(client, account, amount=123.45)["amount"] == 123.45
    assert balance(client, account) == 0


@pytest.mark.mutates
def test_amounts_add_up_exactly(client: ContractClient, setup: SetupData) -> None:
    """Money is exact: three refunds of 0.10 empty a credit balance of 0.30."""
    account = exact_account(setup, "-0.30")
    for _ in range(3):
        create(client, account, amount=0.1)
    assert balance(client, account) == 0, "0.1 + 0.1 + 0.1 did not make 0.30"


@pytest.mark.mutates
@pytest.mark.parametrize("final", ["CANCELLED", "RETURNED"])
def test_balance_moves_on_refund_and_back_when_it_is_undone(
    client: ContractClient, setup: SetupData, final: str
) -> None:
    """A refund moves the balance up; CANCELLED or RETURNED moves it back."""
    account = accounts(setup).account()
    before = balance(client, account)
    refund = create(client, account, amount=0.05)["token"]
    assert balance(client, account) == before + Decimal("0.05")
    for status in path_to(final):
        assert transition(client, account, refund, status).status_code == 201
    assert balance(client, account) == before, f"{final} did not give the amount back"


@pytest.mark.mutates
def test_refunds_write_journal_entries(client: ContractClient, setup: SetupData) -> None:
    """Refunds and balance refunds appear as journal entries (BALANCE_REFUND group)."""
    account = accounts(setup).account()
    balance_refund = client.post(
        f"/accounts/{account}/creditbalancerefunds", json={**BALANCE_REFUND, "amount": 0.01}
    ).json()
    refund = create(client, account, amount=0.01)
    entries = client.get(
        f"/accounts/{account}/journalentries?count=100&sort_by=-createdTime"
    ).json()["data"]
    by_detail = {entry["detail_token"]: entry for entry in entries}
    assert balance_refund["token"] in by_detail, "no journal entry for the balance refund"
    assert by_detail[balance_refund["token"]]["group"] == "BALANCE_REFUND"
    assert refund["token"] in by_detail, "no journal entry for the refund"


@pytest.mark.mutates
def test_duplicate_client_tokens_are_refused(client: ContractClient, setup: SetupData) -> None:
    """A client token already used is refused (409), for refunds and transitions."""
    account = accounts(setup).account()
    token = f"conf-{time.time_ns()}"[:36]
    create(client, account, amount=0.01, token=token)
    before = balance(client, account)
    again = client.post(
        f"/accounts/{account}/refunds", json={**REFUND, "amount": 0.01, "token": token}
    )
    assert again.status_code == 409, f"duplicate refund token answered {again.status_code}"
    assert balance(client, account) == before
    assert transition(client, account, token, FIRST_MOVE, token=token + "t").status_code == 201
    repeated = transition(client, account, token, SECOND_MOVE, token=token + "t")
    assert repeated.status_code == 409, f"duplicate transition token: {repeated.status_code}"


@pytest.mark.mutates
def test_timestamps_are_utc_seconds_and_updated_time_moves(
    client: ContractClient, setup: SetupData
) -> None:
    """Timestamps are yyyy-MM-ddTHH:mm:ssZ; a transition moves updated_time forward."""
    account = accounts(setup).account()
    refund = create(client, account, amount=0.01)
    assert TIMESTAMP.match(refund["created_time"]) and TIMESTAMP.match(refund["updated_time"])
    time.sleep(1.1)
    moved = transition(client, account, refund["token"], FIRST_MOVE).json()
    assert moved["updated_time"] > refund["updated_time"], "updated_time did not move"
    assert moved["created_time"] == refund["created_time"], "created_time changed"


@pytest.mark.mutates
def test_the_simulation_moves_a_refund_through_the_allowed_transitions(
    client: ContractClient, setup: SetupData
) -> None:
    """The sandbox's simulation moves a refund to the status asked for, each step recorded."""
    account = accounts(setup).account()
    made = create(client, account, amount=0.01)["token"]
    target = LIFECYCLE["forward"][-1]
    response = client.post(
        f"/simulation/accounts/{account}/refunds/{made}/transitions",
        json={"status": target, "token": made},
    )
    assert response.status_code == 201, f"the simulation answered {response.status_code}"
    assert response.json()["status"] == target, f"the simulation left it {response.json()}"
    history = client.get(
        f"/accounts/{account}/refunds/{made}/transitions?sort_by=createdTime&count=100"
    ).json()["data"]
    recorded = [transition["status"] for transition in history]
    assert recorded == path_to(target), f"recorded {recorded}, expected {path_to(target)}"


# Errors and credentials ---------------------------------------------------------------------------


def test_errors_use_the_marqeta_error_shape(client: ContractClient) -> None:
    """Errors carry error_code (6 digits, starting with the status) and error_message."""
    for path, status in (
        ("/accounts/conformance-no-such-account", 404),
        ("/accounts?count=0", 400),
    ):
        response = client.get(path)
        assert response.status_code == status, f"{path} answered {response.status_code}"
        body = response.json()
        assert set(body) >= {"error_code", "error_message"}, f"error body {body}"
        assert body["error_code"].startswith(str(status)), f"error_code {body['error_code']}"


def test_credentials_are_required(anonymous: ContractClient, client: ContractClient) -> None:
    """Every request needs valid credentials."""
    assert anonymous.get("/accounts").status_code == 401, "no credentials accepted"
    wrong = client.get("/accounts", auth=("conformance", "not-the-password"))
    assert wrong.status_code == 401, "wrong credentials accepted"
