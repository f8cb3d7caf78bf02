"""Session churn under load, for ``make soak``: writers create refunds in a session while it is
deleted again and again (through another worker or replica than most writes go to), then
recreated by the next write. Every write acknowledged after a delete must be in the session
afterwards, and no answer may be a 5xx."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

ACCOUNT = "/v3/accounts/churn_account"
# The mock's start data for the churn: the account is there again in every new session.
START_DATA = "marqeta:\n  accounts:\n    - token: churn_account\n      current_balance: -1000000\n"
AUTH = ("demo_app_token", "demo_access_token")
JSON = {"Content-Type": "application/json"}


@dataclass
class ChurnResult:
    label: str
    writes: int = 0
    deletes: int = 0
    server_errors: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged after the last delete, gone

    @property
    def passed(self) -> bool:
        return self.server_errors == 0 and not self.lost

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return (
            f"| {self.label} | {self.writes} | {self.deletes} | {self.server_errors} |"
            f" {len(self.lost)} | {verdict} |"
        )


def churn_under_load(
    label: str, roots: list[str], writers: int = 12, writes_each: int = 100, deletes: int = 20
) -> ChurnResult:
    """Writers spread over ``roots`` while the session is deleted ``deletes`` times through
    the first root, one delete per batch of answers."""
    session = "churn-" + re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
    result = ChurnResult(label)
    lock = threading.Lock()
    answered = threading.Semaphore(0)
    events = [0]
    last_delete = [0]
    after_delete: set[str] = set()

    def tick() -> int:
        with lock:
            events[0] += 1
            return events[0]

    def write(writer: int) -> None:
        with httpx.Client(auth=AUTH, timeout=60, headers={"X-Mock-Session": session}) as client:
            for number in range(writes_each):
                token = f"w{writer}_{number}"
                sent = tick()
                answer = client.post(
                    f"{roots[(writer + number) % len(roots)]}{ACCOUNT}/refunds",
                    json={
                        "method": "ACH",
                        "type": "CREDIT_BALANCE_REFUND",
                        "amount": 0.01,
                        "token": token,
                    },
                )
                if answer.status_code not in (201, 503) and answer.status_code < 500:
                    raise RuntimeError(f"a write was refused: {answer.text}")
                with lock:
                    result.writes += 1
                    result.server_errors += answer.status_code >= 500
                    if answer.status_code == 201 and sent > last_delete[0]:
                        after_delete.add(token)
                answered.release()

    def delete() -> None:
        batch = max(1, writers * writes_each // (deletes + 1))
        for _ in range(deletes):
            for _ in range(batch):
                if not answered.acquire(timeout=120):
                    raise RuntimeError("the writers stopped answering")
            gone = httpx.delete(f"{roots[0]}/__mock__/sessions/{session}", headers=JSON, timeout=60)
            with lock:
                result.server_errors += gone.status_code >= 500
                result.deletes += 1
                after_delete.clear()  # only what was sent after this delete must survive it
                last_delete[0] = events[0] + 1
            tick()

    with ThreadPoolExecutor(writers + 1) as pool:
        jobs = [pool.submit(write, n) for n in range(writers)] + [pool.submit(delete)]
        for job in jobs:
            job.result()
    found: set[str] = set()
    with httpx.Client(auth=AUTH, timeout=60, headers={"X-Mock-Session": session}) as client:
        while True:
            answer = client.get(
                f"{roots[-1]}{ACCOUNT}/refunds", params={"count": 100, "start_index": len(found)}
            )
            if answer.status_code != 200:
                raise RuntimeError(f"listing the session's refunds: {answer.text}")
            page = answer.json()
            found |= {refund["token"] for refund in page["data"]}
            if not page["is_more"]:
                break
    result.lost = sorted(after_delete - found)
    return result
