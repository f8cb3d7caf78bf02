"""Balanced setup data: two accounts of one marketplace, that debits can be made on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from conformance.fixtures import ControlClient, NoSetupData

FIXTURES_KEYS = frozenset({"marketplace_id", "accounts"})


@dataclass(frozen=True)
class BalancedAccount:
    marketplace_id: str
    account_id: str


class BalancedSetup(Protocol):
    def account(self) -> BalancedAccount:
        """An account that debits can be made on."""

    def other_account(self) -> BalancedAccount:
        """A second account in the same marketplace."""


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


class FromFile:
    def __init__(self, section: dict[str, Any], path: Path) -> None:
        self.section = section
        self.path = path

    def account(self) -> BalancedAccount:
        return self._account(0)

    def other_account(self) -> BalancedAccount:
        return self._account(1)

    def _account(self, index: int) -> BalancedAccount:
        accounts = self.section.get("accounts") or []
        marketplace = self.section.get("marketplace_id")
        if not marketplace or len(accounts) <= index:
            raise NoSetupData(
                f"{self.path}: add balanced.marketplace_id and {index + 1} balanced.accounts"
            )
        return BalancedAccount(str(marketplace), str(accounts[index]))


def pinned_parameters(setup: BalancedSetup) -> dict[str, str]:
    account = setup.account()
    return {"marketplace_id": account.marketplace_id, "account_id": account.account_id}
