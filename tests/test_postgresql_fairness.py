"""One slow session cannot stall a PostgreSQL replica for everyone: a long transaction holds its
own session only, every wait is bounded, and a 503 says whether the database was busy or away."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from mock_server.http_clients import tls_context
from tests.support import DEMO_AUTH, JSON

ACCOUNT = "/v3/accounts/demo_account_credit_balance"
SEED_ACCOUNTS = 4000  # a seed that takes seconds on this machine


def big_seed() -> dict[str, Any]:
    accounts = [{"token": f"bulk_{n}", "current_balance": -10} for n in range(SEED_ACCOUNTS)]
    return {"marqeta": {"accounts": accounts}}


def test_a_long_seed_in_one_session_holds_that_session_only(start_mock, postgres):
    _, root = start_mock("--store", postgres.new_database())
    seeding = threading.Event()
    seeding.set()
    seed_answer: list[httpx.Response] = []

    def seed() -> None:
        with httpx.Client(verify=tls_context(), timeout=300) as client:
            seed_answer.append(
                client.post(
                    f"{root}/__mock__/seed",
                    json=big_seed(),
                    headers={**JSON, "X-Mock-Session": "slow"},
                )
            )
        seeding.clear()

    def in_slow_session(_: int) -> httpx.Response:
        with httpx.Client(verify=tls_context(), auth=DEMO_AUTH, timeout=60) as client:
            return client.get(f"{root}{ACCOUNT}", headers={"X-Mock-Session": "slow"})

    httpx.get(f"{root}{ACCOUNT}", auth=DEMO_AUTH, headers={"X-Mock-Session": "slow"})
    others: list[tuple[str, int, bool]] = []  # (what, status, answered while seeding)
    with ThreadPoolExecutor(12) as pool:
        seeder = pool.submit(seed)
        queued = [pool.submit(in_slow_session, n) for n in range(10)]  # behind the seed
        with httpx.Client(verify=tls_context(), auth=DEMO_AUTH, timeout=60) as client:
            while seeding.is_set():
                for what, url, headers in (
                    ("other session", f"{root}{ACCOUNT}", {"X-Mock-Session": "other"}),
                    ("default state", f"{root}{ACCOUNT}", {}),
                    ("health", f"{root}/__mock__/health", {}),
                ):
                    answer = client.get(url, headers=headers)
                    others.append((what, answer.status_code, seeding.is_set()))
        seeder.result()
    assert seed_answer[0].status_code == 201, seed_answer[0].text
    assert {status for _, status, _ in others} == {200}, others
    assert sum(during for _, _, during in others) >= 6, "the seed was over too soon to tell"
    for each in queued:
        answer = each.result()
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 503:
            assert "busy" in answer.json()["error_message"], answer.text
