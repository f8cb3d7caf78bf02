"""Marqeta setup data: credit accounts with a chosen (negative) balance, and a payment source."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from conformance.fixtures import ControlClient, NoSetupData

FIXTURES_KEYS = frozenset({"refundable_accounts", "non_negative_balance_account", "payment_source"})


class MarqetaSetup(Protocol):
    def account(self, balance: Decimal | None = None) -> str:
        """An account with a negative balance (exactly ``balance`` if the setup can make one)."""

    def account_for_property_tests(self) -> str:
        """The account generated requests refund against; they may use up its credit balance."""

    def account_with_balance_at_least_zero(self) -> str: ...

    def payment_source(self) -> tuple[str, str]:
        """(account token, payment source token) of a payment source on a refundable account."""


class FromMock:
    def __init__(self, control: ControlClient) -> None:
        self.control = control

    def account(self, balance: Decimal | None = None) -> str:
        return self._account(balance if balance is not None else Decimal("-1000.00"))

    def account_for_property_tests(self) -> str:
        return self._account(Decimal("-1000000000"))

    def account_with_balance_at_least_zero(self) -> str:
        return self._account(Decimal("0"))

    def payment_source(self) -> tuple[str, str]:
        token = f"conf-ps-{uuid.uuid4().hex[:12]}"
        account = self._account(
            Decimal("-1000.00"), payment_sources=[{"token": token, "account_suffix": "1234"}]
        )
        return account, token

    def _account(self, balance: Decimal, **fields: Any) -> str:
        body = {"current_balance": float(balance), "credit_limit": 1_000_000, **fields}
        return str(self.control.post("/accounts", body)["token"])


class FromFile:
    def __init__(self, section: dict[str, Any], path: Path) -> None:
        self.section = section
        self.path = path

    def account(self, balance: Decimal | None = None) -> str:
        accounts = self.section.get("refundable_accounts") or []
        if not accounts:
            raise NoSetupData(f"{self.path}: add marqeta.refundable_accounts")
        return str(accounts[0])

    def account_for_property_tests(self) -> str:
        # The last one: generated refunds may use up its balance (list two to keep the first).
        self.account()
        return str(self.section["refundable_accounts"][-1])

    def account_with_balance_at_least_zero(self) -> str:
        token = self.section.get("non_negative_balance_account")
        if not token:
            raise NoSetupData(f"{self.path}: add marqeta.non_negative_balance_account")
        return str(token)

    def payment_source(self) -> tuple[str, str]:
        source = self.section.get("payment_source") or {}
        if not source.get("account") or not source.get("token"):
            raise NoSetupData(f"{self.path}: add marqeta.payment_source (account, token)")
        return str(source["account"]), str(source["token"])


def pinned_parameters(setup: MarqetaSetup) -> dict[str, str]:
    return {"account_token": setup.account_for_property_tests()}
