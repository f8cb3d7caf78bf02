"""A team's shared mock on PostgreSQL: separate `refund-mock` processes (replicas, not workers of
one) on one database serve one state, and the money rules hold across them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx

from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from mock_server.http_clients import tls_context
from tests.postgres import postgres_server
from tests.support import DEMO_AUTH, JSON, race

CLIENTS = 64
LIVE = "/__mock__/health/live"
READY = "/__mock__/health/ready"


def test_replicas_serve_one_state(start_mock, postgres):
    store = postgres.new_database()
    _, one = start_mock("--store", store)
    _, other = start_mock("--store", store)  # finds the demo data there: not loaded twice
    body = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 5, "token": "seen_by_both"}
    account = "/v3/accounts/demo_account_credit_balance"
    assert httpx.post(f"{one}{account}/refunds", json=body, auth=DEMO_AUTH).status_code == 201
    read = httpx.get(f"{other}{account}/refunds/seen_by_both", auth=DEMO_AUTH)
    assert read.status_code == 200 and read.json()["amount"] == 5
    accounts = httpx.get(f"{other}/v3/accounts?count=100", auth=DEMO_AUTH).json()["data"]
    assert len([a for a in accounts if a["token"] == "demo_account_credit_balance"]) == 1


def test_refunds_racing_on_two_replicas_never_pass_the_marqeta_balance(start_mock, postgres):
    store = postgres.new_database()
    replicas = [start_mock("--store", store, "--no-demo")[1] for _ in range(2)]
    created = httpx.post(f"{replicas[0]}/__mock__/accounts", json={"current_balance": -100})
    account = f"/v3/accounts/{created.json()['token']}"
    body = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 7.5}
    # 64 refunds of 7.50 ask for 480.00 of a credit balance of 100.00: 13 fit (97.50).
    responses = race(
        [(f"{replicas[n % 2]}{account}/refunds", body, DEMO_AUTH) for n in range(CLIENTS)]
    )

    assert {r.status_code for r in responses} <= {201, 400}
    accepted = [Decimal(str(r.json()["amount"])) for r in responses if r.status_code == 201]
    assert len(accepted) == 13
    for root in replicas:
        final = httpx.get(f"{root}{account}", auth=DEMO_AUTH).json()
        assert Decimal(str(final["current_balance"])) == Decimal("-100") + sum(accepted)
        listed = httpx.get(f"{root}{account}/refunds?count=100", auth=DEMO_AUTH).json()
        assert listed["count"] == 13
        journal = httpx.get(f"{root}{account}/journalentries?count=100", auth=DEMO_AUTH).json()
        assert journal["count"] == 13


def test_refunds_racing_on_two_replicas_never_pass_a_balanced_debit(start_mock, postgres):
    store = postgres.new_database()
    replicas = [start_mock("--store", store, "--no-demo")[1] for _ in range(2)]
    debit = {"id": "WD", "amount": 1000, "fee": 35}
    fixtures = {
        "balanced": {
            "marketplaces": [
                {"id": "MP", "name": "S", "accounts": [{"id": "AC", "debits": [debit]}]}
            ]
        }
    }
    httpx.post(f"{replicas[1]}/__mock__/seed", json=fixtures).raise_for_status()
    body = {"debit_uri": "/v1/marketplaces/MP/debits/WD", "amount": 30}
    auth = (DEMO_BALANCED_SECRET, "")
    # 64 refunds of 30 ask for 1920 of a 1000 debit: 33 fit (990).
    responses = race(
        [(f"{replicas[n % 2]}/v1/marketplaces/MP/refunds", body, auth) for n in range(CLIENTS)]
    )

    assert {r.status_code for r in responses} <= {201, 400}
    assert len([r for r in responses if r.status_code == 201]) == 33
    for root in replicas:
        listed = httpx.get(f"{root}/v1/marketplaces/MP/debits/WD/refunds?limit=100", auth=auth)
        assert listed.json()["total"] == 33
        assert sum(item["amount"] for item in listed.json()["items"]) == 990
        shop = httpx.get(f"{root}/v1/marketplaces/MP", auth=auth).json()
        assert shop["in_escrow"] == 1000 - 990


def test_a_replica_killed_mid_load_loses_nothing_acknowledged(start_mock, postgres):
    store = postgres.new_database()
    (doomed, one), (_, other) = (start_mock("--store", store) for _ in range(2))
    account = "/v3/accounts/demo_account_credit_balance"
    acknowledged, unanswered, answered_after = set(), set(), []
    stop = threading.Event()

    def load(root: str, prefix: str) -> None:
        with httpx.Client(verify=tls_context(), auth=DEMO_AUTH, timeout=10) as client:
            for n in range(10_000):
                if stop.is_set():
                    return
                token = f"{prefix}_{n}"
                body = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 0.01}
                try:
                    made = client.post(f"{root}{account}/refunds", json={**body, "token": token})
                except httpx.TransportError:
                    unanswered.add(token)
                    if root == one:
                        return  # the replica is gone
                    continue
                assert made.status_code == 201, made.text
                acknowledged.add(token)
                if root == other and doomed.poll() is not None:
                    answered_after.append(token)

    with ThreadPoolExecutor(max_workers=4) as pool:
        running = [pool.submit(load, root, f"r{n}") for n, root in enumerate([one, other] * 2)]
        while len(acknowledged) < 40:
            threading.Event().wait(0.05)
        doomed.kill()  # SIGKILL, mid-request
        doomed.wait(timeout=10)
        while len(answered_after) < 20:  # the other replica goes on answering
            threading.Event().wait(0.05)
        stop.set()
        for each in running:
            each.result(timeout=60)

    tokens: set[str] = set()
    while True:  # every refund of the account, a page at a time
        page = httpx.get(
            f"{other}{account}/refunds?count=100&start_index={len(tokens)}", auth=DEMO_AUTH
        ).json()
        tokens |= {refund["token"] for refund in page["data"]}
        if not page["is_more"]:
            break
    assert acknowledged <= tokens  # nothing acknowledged is lost
    assert tokens - acknowledged <= unanswered  # nothing appears that was answered otherwise


def test_replicas_answer_503_while_the_database_restarts_and_recover(start_mock):
    with postgres_server() as server:
        store = server.new_database()
        replicas = [start_mock("--store", store)[1] for _ in range(2)]
        account = "/v3/accounts/demo_account_credit_balance"
        balanced = "/v1/marketplaces/TEST-MPdemo"
        for root in replicas:
            assert httpx.get(f"{root}{READY}", timeout=30).json()["status"] == "ready"
        server.stop()
        for root in replicas:
            # Out of the load balancer's rotation, not restarted by the orchestrator.
            ready = httpx.get(f"{root}{READY}", timeout=30)
            assert (ready.status_code, ready.json()["status"]) == (503, "unavailable")
            assert "cannot be reached" in ready.json()["reason"]
            assert httpx.get(f"{root}{LIVE}", timeout=30).status_code == 200
            down = httpx.get(f"{root}{account}", auth=DEMO_AUTH, timeout=30)
            assert down.status_code == 503, down.text
            assert down.json()["error_code"] == "503001"
            assert "cannot be reached" in down.json()["error_message"]  # not "busy"
            down = httpx.get(f"{root}{balanced}", auth=(DEMO_BALANCED_SECRET, ""), timeout=30)
            assert (down.status_code, down.json()["category_code"]) == (503, "service-unavailable")
        server.start()
        for root in replicas:  # by themselves: the first request after the restart succeeds
            assert httpx.get(f"{root}{account}", auth=DEMO_AUTH, timeout=30).status_code == 200
            back = httpx.get(f"{root}{balanced}", auth=(DEMO_BALANCED_SECRET, ""), timeout=30)
            assert back.status_code == 200
            assert httpx.get(f"{root}{READY}", timeout=30).status_code == 200


def test_replicas_running_the_lifecycle_timer_move_each_refund_once_a_step(start_mock, postgres):
    store = postgres.new_database()
    replicas = [start_mock("--store", store, "--lifecycle", "auto:200ms")[1] for _ in range(2)]
    account = "/v3/accounts/demo_account_credit_balance"
    body = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}
    tokens = [
        httpx.post(f"{replicas[n % 2]}{account}/refunds", json=body, auth=DEMO_AUTH).json()["token"]
        for n in range(6)
    ]
    deadline = time.monotonic() + 30
    with httpx.Client(
        verify=tls_context(), base_url=replicas[0], auth=DEMO_AUTH, timeout=10
    ) as client:
        for token in tokens:
            while client.get(f"{account}/refunds/{token}").json()["status"] != "COMPLETED":
                assert time.monotonic() < deadline, "the timers did not complete the refunds"
                time.sleep(0.05)
            moves = client.get(f"{account}/refunds/{token}/transitions?sort_by=createdTime")
            # Both replicas' timers ran; each step was taken once.
            assert [t["status"] for t in moves.json()["data"]] == [
                "PROCESSING",
                "SUBMITTED",
                "COMPLETED",
            ]


def test_a_fault_set_through_one_replica_applies_on_all(start_mock, postgres):
    store = postgres.new_database()
    one, other = (start_mock("--store", store)[1] for _ in range(2))
    account = "/v3/accounts/demo_account_credit_balance"
    fault = {"next": [500, 404]}
    set_fault = httpx.put(f"{one}/__mock__/faults/marqeta/retrieveAccount", json=fault)
    assert set_fault.status_code == 200
    # The queue of forced answers is one: each is answered once, by whichever replica.
    answers = [httpx.get(f"{root}{account}", auth=DEMO_AUTH) for root in (other, one, other)]
    assert [a.status_code for a in answers] == [500, 404, 200]
    listed = httpx.get(f"{other}/__mock__/faults").json()["faults"]
    assert [(f["operation"], f["next"]) for f in listed] == [("retrieveAccount", [])]
    assert httpx.delete(f"{other}/__mock__/faults", headers=JSON).status_code == 204
    assert httpx.get(f"{one}/__mock__/faults").json()["faults"] == []


def test_a_session_first_used_while_the_database_is_down_is_a_503_too(start_mock):
    with postgres_server() as server:
        _, root = start_mock("--store", server.new_database())
        server.stop()
        account = "/v3/accounts/demo_account_credit_balance"
        fresh = httpx.get(
            f"{root}{account}", auth=DEMO_AUTH, headers={"X-Mock-Session": "new"}, timeout=30
        )
        assert fresh.status_code == 503, fresh.text
        server.start()
        back = httpx.get(f"{root}{account}", auth=DEMO_AUTH, headers={"X-Mock-Session": "new"})
        assert back.status_code == 200
