"""--lifecycle auto:DURATION moves refunds along the forward path on a timer."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from mock_server.app import MockConfig, build_app
from mock_server.control.lifecycle import AutoLifecycle, parse_lifecycle
from mock_server.http_clients import tls_context
from mock_server.marqeta.models import Refund
from mock_server.marqeta.service import MarqetaService, NewRefund, Policy
from mock_server.sessions import Session
from mock_server.spec import load_contract
from tests.support import DEMO_AUTH, SettableClock

# Services keep no state (each call is given its session's store): the test's own is the mock's.
MARQETA = MarqetaService(
    SettableClock(), Policy.from_contract(load_contract("marqeta-credit.yaml"))
)
URL = "/v3/accounts/demo_account_credit_balance/refunds"
REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}


@pytest.mark.parametrize(
    ("spec", "seconds"), [("auto:5s", 5), ("auto:500ms", 0.5), ("auto:2m", 120), ("auto:1.5s", 1.5)]
)
def test_lifecycle_durations_are_read(spec, seconds):
    assert parse_lifecycle(spec) == timedelta(seconds=seconds)


@pytest.mark.parametrize("spec", ["auto", "auto:", "auto:0s", "auto:5", "manual:5s", "auto:-1s"])
def test_a_bad_lifecycle_is_refused(spec):
    with pytest.raises(ValueError, match="auto:DURATION"):
        parse_lifecycle(spec)


def test_a_tick_moves_each_refund_that_is_due_one_step_in_every_session():
    clock = SettableClock()
    clock.pinned = clock.now()
    app = build_app(MockConfig(clock=clock))
    sessions = app.sessions
    default, other = sessions.default, sessions.state("other")
    lifecycle = AutoLifecycle(sessions, app.states.vendors, timedelta(seconds=5), clock)
    marqeta = marqeta_service(clock)
    new = NewRefund(method="ACH", type="CREDIT_BALANCE_REFUND", amount=Decimal(1))
    first = marqeta.create_refund(default.store, "demo_account_credit_balance", new)
    theirs = marqeta.create_refund(other.store, "demo_account_credit_balance", new)
    clock.pinned += timedelta(seconds=4)
    assert lifecycle.tick() == 0  # not due yet
    later = marqeta.create_refund(default.store, "demo_account_credit_balance", new)
    clock.pinned += timedelta(seconds=1)
    assert lifecycle.tick() == 2  # first and theirs; later has waited only 1 s
    assert (status(default, first), status(other, theirs), status(default, later)) == (
        "PROCESSING",
        "PROCESSING",
        "PENDING",
    )
    for _ in range(10):
        clock.pinned += timedelta(seconds=5)
        lifecycle.tick()
    assert status(default, first) == "COMPLETED"  # and there it stays


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgresql"])
def test_a_description_holding_nul_and_a_deleted_session_stop_no_refund_moving(
    kind, request, tmp_path
):
    store = {"memory": "memory", "sqlite": f"sqlite:{tmp_path / 'm.db'}"}.get(kind) or str(
        request.getfixturevalue("postgres").new_database()
    )
    clock = SettableClock()
    clock.pinned = clock.now()
    app = build_app(MockConfig(clock=clock, store=store))
    sessions = app.sessions
    default, gone = sessions.default, sessions.state("gone")
    lifecycle = AutoLifecycle(sessions, app.states.vendors, timedelta(seconds=5), clock)
    marqeta = marqeta_service(clock)
    strange = NewRefund(
        method="ACH", type="CREDIT_BALANCE_REFUND", amount=Decimal(1), description="a\x00b"
    )
    first = marqeta.create_refund(default.store, "demo_account_credit_balance", strange)
    marqeta.create_refund(gone.store, "demo_account_credit_balance", strange)
    gone.store.destroy()  # deleted as by another worker: this process still holds it
    clock.pinned += timedelta(seconds=5)
    assert lifecycle.tick() == 1
    assert status(default, first) == "PROCESSING"


def status(session: Session, refund: Refund) -> str:
    return (
        marqeta_service(SettableClock())
        .refund(session.store, refund.account_token, refund.token)
        .status
    )


def marqeta_service(clock: SettableClock) -> MarqetaService:
    """A service of the test's own: services keep no state (each call is given its session's
    store), so it works on the mock's sessions as the mock's own does."""
    return MarqetaService(clock, Policy.from_contract(load_contract("marqeta-credit.yaml")))


def test_a_served_mock_completes_refunds_on_its_own(start_mock):
    _, root = start_mock("--lifecycle", "auto:200ms")
    with httpx.Client(verify=tls_context(), base_url=root, auth=DEMO_AUTH, timeout=10) as client:
        token = client.post(URL, json=REFUND).json()["token"]
        seen: list[str] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (not seen or seen[-1] != "COMPLETED"):
            status = client.get(f"{URL}/{token}").json()["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            time.sleep(0.05)
        transitions = client.get(f"{URL}/{token}/transitions?sort_by=createdTime").json()
    assert seen[-1] == "COMPLETED", seen
    assert [t["status"] for t in transitions["data"]] == ["PROCESSING", "SUBMITTED", "COMPLETED"]
