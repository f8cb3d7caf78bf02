"""Where the suite's setup data comes from: the mock's control API, or a fixtures file.

Behaviour tests need accounts with a credit (negative) balance and debits to refund. Against
this kit's mock the suite makes fresh ones through ``/__mock__``; against anything else it uses
the ones a fixtures file names (format: ``conformance/example-fixtures.yaml``), reading their
current state through the API rather than assuming it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml

from conformance.target import CONTROL_TOKEN_VARIABLE


class NoSetupData(Exception):
    """The test needs data this setup cannot provide; the message says what to add."""


class NotApplicable(NoSetupData):
    """The test can only run against this kit's mock (it needs state only the mock can make):
    against another target it does not apply, and its skip leaves the verdict conclusive."""


class FixturesFileError(ValueError):
    """A fixtures file that cannot be used: the message says what is wrong."""


FIXTURES_SECTIONS = {
    "marqeta": {"refundable_accounts", "non_negative_balance_account", "payment_source"},
    "balanced": {"marketplace_id", "accounts"},
}


def read_fixtures_file(path: Path) -> dict[str, Any]:
    """A fixtures file's content, checked: a mapping of the known sections and keys."""
    if not path.is_file():
        raise FixturesFileError("no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FixturesFileError(f"cannot be read: {exc}".splitlines()[0]) from None
    if data is None:
        raise FixturesFileError("is empty")
    if not isinstance(data, dict):
        raise FixturesFileError("must be a mapping with marqeta: and/or balanced: sections")
    for section, content in data.items():
        known = FIXTURES_SECTIONS.get(section)
        if known is None:
            raise FixturesFileError(f"unknown section {section!r} (known: marqeta, balanced)")
        if not isinstance(content, dict):
            raise FixturesFileError(f"{section}: must be a mapping")
        unknown = set(content) - known
        if unknown:
            raise FixturesFileError(f"{section}: unknown keys {sorted(unknown)}")
    return data


@dataclass(frozen=True)
class BalancedAccount:
    marketplace_id: str
    account_id: str


class SetupData(Protocol):
    can_create: bool  # fresh resources with chosen state (only against the mock)

    def marqeta_account(self, balance: Decimal | None = None) -> str:
        """A Marqeta account with a negative balance (exactly ``balance`` if creatable)."""

    def marqeta_account_for_property_tests(self) -> str:
        """The account generated requests refund against; they may use up its credit balance."""

    def marqeta_account_with_balance_at_least_zero(self) -> str: ...

    def marqeta_payment_source(self) -> tuple[str, str]:
        """(account token, payment source token) of a payment source on a refundable account."""

    def balanced_account(self) -> BalancedAccount:
        """A Balanced account that debits can be made on."""

    def other_balanced_account(self) -> BalancedAccount:
        """A second account in the same marketplace."""


class MockSetup:
    """Makes fresh resources through the mock's control API."""

    can_create = True

    def __init__(self, control_url: str, session: str | None = None) -> None:
        # The control API takes changes as JSON only, and a token where the mock requires one;
        # what it makes goes into the run's own session.
        token = os.environ.get(CONTROL_TOKEN_VARIABLE)
        headers = {"Content-Type": "application/json"}
        if session:
            headers["X-Mock-Session"] = session
        self.http = httpx.Client(
            base_url=control_url,
            headers=headers | ({"X-Mock-Control-Token": token} if token else {}),
            timeout=10,
        )
        self._balanced: list[BalancedAccount] = []

    def marqeta_account(self, balance: Decimal | None = None) -> str:
        return self._account(balance if balance is not None else Decimal("-1000.00"))

    def marqeta_account_for_property_tests(self) -> str:
        return self._account(Decimal("-1000000000"))

    def marqeta_account_with_balance_at_least_zero(self) -> str:
        return self._account(Decimal("0"))

    def marqeta_payment_source(self) -> tuple[str, str]:
        token = f"conf-ps-{uuid.uuid4().hex[:12]}"
        account = self._account(
            Decimal("-1000.00"), payment_sources=[{"token": token, "account_suffix": "1234"}]
        )
        return account, token

    def balanced_account(self) -> BalancedAccount:
        marketplace = f"CONF-MP{uuid.uuid4().hex[:12]}"
        accounts = [f"CONFAC{uuid.uuid4().hex[:12]}" for _ in range(2)]
        self._post(
            "/seed",
            {
                "balanced": {
                    "marketplaces": [
                        {
                            "id": marketplace,
                            "name": "Conformance",
                            "accounts": [{"id": account} for account in accounts],
                        }
                    ]
                }
            },
        )
        self._balanced = [BalancedAccount(marketplace, account) for account in accounts]
        return self._balanced[0]

    def other_balanced_account(self) -> BalancedAccount:
        if not self._balanced:
            self.balanced_account()
        return self._balanced[1]

    def _account(self, balance: Decimal, **fields: Any) -> str:
        body = {"current_balance": float(balance), "credit_limit": 1_000_000, **fields}
        return str(self._post("/accounts", body)["token"])

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created


class FileSetup:
    """Uses the resources a fixtures file names."""

    can_create = False

    def __init__(self, path: Path) -> None:
        data = read_fixtures_file(path)
        self.marqeta = data.get("marqeta") or {}
        self.balanced = data.get("balanced") or {}
        self.path = path

    def marqeta_account(self, balance: Decimal | None = None) -> str:
        accounts = self.marqeta.get("refundable_accounts") or []
        if not accounts:
            raise NoSetupData(f"{self.path}: add marqeta.refundable_accounts")
        return str(accounts[0])

    def marqeta_account_for_property_tests(self) -> str:
        # The last one: generated refunds may use up its balance (list two to keep the first).
        self.marqeta_account()
        return str(self.marqeta["refundable_accounts"][-1])

    def marqeta_account_with_balance_at_least_zero(self) -> str:
        token = self.marqeta.get("non_negative_balance_account")
        if not token:
            raise NoSetupData(f"{self.path}: add marqeta.non_negative_balance_account")
        return str(token)

    def marqeta_payment_source(self) -> tuple[str, str]:
        source = self.marqeta.get("payment_source") or {}
        if not source.get("account") or not source.get("token"):
            raise NoSetupData(f"{self.path}: add marqeta.payment_source (account, token)")
        return source["account"], source["token"]

    def balanced_account(self) -> BalancedAccount:
        return self._balanced_account(0)

    def other_balanced_account(self) -> BalancedAccount:
        return self._balanced_account(1)

    def _balanced_account(self, index: int) -> BalancedAccount:
        accounts = self.balanced.get("accounts") or []
        marketplace = self.balanced.get("marketplace_id")
        if not marketplace or len(accounts) <= index:
            raise NoSetupData(
                f"{self.path}: add balanced.marketplace_id and {index + 1} balanced.accounts"
            )
        return BalancedAccount(marketplace, accounts[index])


class NoFixtures:
    """Neither the mock nor a fixtures file: tests that need data are skipped, saying why."""

    can_create = False

    def _missing(self, *_: Any, **__: Any) -> Any:
        raise NoSetupData("the target is not this kit's mock: pass --fixtures FILE")

    marqeta_account = marqeta_account_with_balance_at_least_zero = _missing
    marqeta_account_for_property_tests = _missing
    marqeta_payment_source = balanced_account = other_balanced_account = _missing
