from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.auth import DEMO_BALANCED_SECRET
from tests.support import ContractClient, LiveMock, SettableClock, serve

MARQETA = "marqeta-credit.yaml"


@pytest.fixture(scope="session")
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture(scope="session")
def live_mock(clock: SettableClock) -> Iterator[LiveMock]:
    with serve(MockConfig(clock=clock)) as mock:
        yield mock


@pytest.fixture
def control(live_mock: LiveMock, clock: SettableClock) -> Iterator[httpx.Client]:
    """The control API, after a reset to the demo data and the real clock."""
    with httpx.Client(base_url=f"{live_mock.root}/__mock__", timeout=10) as client:
        clock.pinned = None
        client.post("/reset").raise_for_status()
        yield client


@pytest.fixture(params=["/v3", "/v3/credit"])
def marqeta(request: pytest.FixtureRequest, live_mock: LiveMock, control: httpx.Client):
    """A contract-checking client for the Marqeta API, under each path spelling."""
    client = ContractClient(f"{live_mock.root}{request.param}", MARQETA)
    yield client
    client.close()


@pytest.fixture
def v3(live_mock: LiveMock, control: httpx.Client) -> Iterator[ContractClient]:
    """Like ``marqeta``, under ``/v3`` only, for tests whose point is not the path spelling."""
    client = ContractClient(f"{live_mock.root}/v3", MARQETA)
    yield client
    client.close()


@pytest.fixture
def open_account(control: httpx.Client):
    """Create a Marqeta account with a given balance through the control API."""

    def create(balance: Any, **fields: Any) -> dict[str, Any]:
        response = control.post("/accounts", json={"current_balance": balance, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    return create


BALANCED = "balanced-v1.yaml"


@pytest.fixture
def balanced(live_mock: LiveMock, control: httpx.Client) -> Iterator[ContractClient]:
    """A contract-checking client for the Balanced API (API key secret, empty password)."""
    client = ContractClient(f"{live_mock.root}/v1", BALANCED, auth=(DEMO_BALANCED_SECRET, ""))
    yield client
    client.close()


@pytest.fixture
def seed(control: httpx.Client):
    """Load a fixtures document through the control API; returns what was created."""

    def load(fixtures: dict[str, Any]) -> dict[str, Any]:
        response = control.post("/seed", json=fixtures)
        assert response.status_code == 201, response.text
        return response.json()

    return load


@pytest.fixture
def buyer(seed) -> dict[str, Any]:
    """A fresh marketplace ``MP`` with account ``AC1`` and no debits yet."""
    created = seed(
        {"balanced": {"marketplaces": [{"id": "MP", "name": "Shop", "accounts": [{"id": "AC1"}]}]}}
    )
    return created["balanced"]["marketplaces"][0]["accounts"][0]
