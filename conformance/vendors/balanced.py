"""Balanced setup data: two accounts of one marketplace, that debits can be made on; debits
that cannot be refunded (pending, failed) or whose marketplace's escrow is too low."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from conformance.fixtures import ControlClient, NoSetupData
from conformance.spending import Created
from mock_server.registry import vendor
from mock_server.spec import load_contract, schema

# The debit states a refund must refuse: every state the contract names but the refundable one.
_STATUS = schema(load_contract(vendor("balanced").contract_file), "DebitStatus")
DEBIT_STATES = tuple(state for state in _STATUS["enum"] if state != _STATUS["x-mock-refundable"])
FIXTURES_KEYS = frozenset(
    {
        "marketplace_id",
        "accounts",
        # Debits of marketplace_id, each URI as the API writes it (/v1/marketplaces/...):
        *(f"{state}_debit_uri" for state in DEBIT_STATES),  # pending_debit_uri, ...
        "escrow_short_debit_uri",  # succeeded, its remainder more than the marketplace's escrow
    }
)


@dataclass(frozen=True)
class BalancedAccount:
    marketplace_id: str
    account_id: str


@dataclass(frozen=True)
class BalancedDebit:
    marketplace_id: str
    uri: str


class BalancedSetup(Protocol):
    def account(self) -> BalancedAccount:
        """An account that debits can be made on."""

    def other_account(self) -> BalancedAccount:
        """A second account in the same marketplace."""

    def debit_in_state(self, status: str) -> BalancedDebit:
        """A debit in ``status`` (one of DEBIT_STATES): refunding it must fail."""

    def escrow_short_debit(self) -> BalancedDebit:
        """A succeeded debit whose un-refunded remainder is more than its marketplace's escrow."""


class FromMock:
    def __init__(self, control: ControlClient) -> None:
        self.control = control
        self._accounts: list[BalancedAccount] = []

    def account(self) -> BalancedAccount:
        marketplace = f"CONF-MP{uuid.uuid4().hex[:12]}"
        accounts = [f"CONFAC{uuid.uuid4().hex[:12]}" for _ in range(2)]
        seeded = {
            "id": marketplace,
            "name": "Conformance",
            "accounts": [{"id": a} for a in accounts],
        }
        self.control.post("/seed", {"balanced": {"marketplaces": [seeded]}})
        self._accounts = [BalancedAccount(marketplace, account) for account in accounts]
        return self._accounts[0]

    def other_account(self) -> BalancedAccount:
        if not self._accounts:
            self.account()
        return self._accounts[1]

    def debit_in_state(self, status: str) -> BalancedDebit:
        return self._debit({"amount": 1000, "status": status})

    def escrow_short_debit(self) -> BalancedDebit:
        return self._debit({"amount": 1000}, in_escrow=100)

    def _debit(self, debit: dict[str, Any], **marketplace: Any) -> BalancedDebit:
        """A marketplace of its own holding one account with ``debit``."""
        seeded = {
            "name": "Conformance",
            **marketplace,
            "accounts": [{"debits": [debit]}],
        }
        made = self.control.post("/seed", {"balanced": {"marketplaces": [seeded]}})
        created = made["balanced"]["marketplaces"][0]
        return BalancedDebit(created["id"], created["accounts"][0]["debits"][0]["uri"])


class FromFile:
    def __init__(self, section: dict[str, Any], path: Path) -> None:
        self.section = section
        self.path = path

    def account(self) -> BalancedAccount:
        return self._account(0)

    def other_account(self) -> BalancedAccount:
        return self._account(1)

    def debit_in_state(self, status: str) -> BalancedDebit:
        return self._debit(f"{status}_debit_uri")

    def escrow_short_debit(self) -> BalancedDebit:
        return self._debit("escrow_short_debit_uri")

    def shortfalls(self, http: httpx.Client) -> list[str]:
        """What the file names that cannot carry a run as the target has it now: debits no
        longer in the state a test needs, an escrow that grew past a debit's remainder."""
        found = []
        for state in DEBIT_STATES:
            uri = self.section.get(f"{state}_debit_uri")
            if uri:
                shown = http.get(relative(str(uri)))
                if shown.status_code == 404:
                    found.append(f"balanced.{state}_debit_uri: no debit {uri} on the target")
                elif shown.status_code == 200 and shown.json().get("status") != state:
                    status = shown.json().get("status")
                    found.append(f"balanced.{state}_debit_uri: {uri} is {status}, not {state}")
        uri, marketplace = (
            self.section.get("escrow_short_debit_uri"),
            self.section.get("marketplace_id"),
        )
        if uri and marketplace:
            remainder = _remainder(http, str(uri))
            shown = http.get(f"/marketplaces/{marketplace}")
            escrow = shown.json().get("in_escrow") if shown.status_code == 200 else None
            if remainder is not None and isinstance(escrow, int) and remainder <= escrow:
                found.append(
                    f"balanced.escrow_short_debit_uri: {uri} has {remainder} left to refund,"
                    f" no longer more than the marketplace's escrow ({escrow}): name another"
                )
        return found

    def _debit(self, key: str) -> BalancedDebit:
        uri = self.section.get(key)
        marketplace = self.section.get("marketplace_id")
        if not marketplace or not uri:
            raise NoSetupData(f"{self.path}: add balanced.marketplace_id and balanced.{key}")
        return BalancedDebit(str(marketplace), str(uri))

    def _account(self, index: int) -> BalancedAccount:
        accounts = self.section.get("accounts") or []
        marketplace = self.section.get("marketplace_id")
        if not marketplace or len(accounts) <= index:
            raise NoSetupData(
                f"{self.path}: add balanced.marketplace_id and {index + 1} balanced.accounts"
            )
        return BalancedAccount(str(marketplace), str(accounts[index]))


def relative(uri: str) -> str:
    """A URI the API hands out, as a path below the base URL (which ends in /v1)."""
    split = urlsplit(uri)
    path = split.path.split("/v1", 1)[1] if "/v1" in split.path else split.path
    return path + (f"?{split.query}" if split.query else "")


def _remainder(http: httpx.Client, uri: str) -> int | None:
    debit = http.get(relative(uri))
    refunds = http.get(relative(uri) + "/refunds", params={"limit": 100})
    if debit.status_code != 200 or refunds.status_code != 200:
        return None
    refunded = sum(int(item.get("amount", 0)) for item in refunds.json().get("items", []))
    return int(debit.json()["amount"]) - refunded


def give_back(http: httpx.Client, created: Iterable[Created]) -> list[str]:
    """Balanced v1 refunds and debits cannot be undone: say what the run leaves."""
    made = list(created)
    if not made:
        return []
    return [
        f"left behind {len(made)} debits and refunds (Balanced v1 cannot undo them); the"
        " debits the run made were its own, so the setup data is as it was, but for escrow"
    ]


def pinned_parameters(setup: BalancedSetup) -> dict[str, str]:
    account = setup.account()
    return {"marketplace_id": account.marketplace_id, "account_id": account.account_id}
