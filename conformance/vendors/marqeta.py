"""Marqeta setup data: credit accounts with a chosen (negative) balance, and a payment source."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import httpx

from conformance.fixtures import ControlClient, NoSetupData
from conformance.spending import Created
from mock_server.domain import DomainError
from mock_server.marqeta.rules import Lifecycle, steps_to
from mock_server.registry import vendor
from mock_server.spec import load_contract, schema

LIFECYCLE = Lifecycle.from_contract(
    schema(load_contract(vendor("marqeta").contract_file), "RefundStatus")["x-mock-lifecycle"]
)
# What the behaviour tests refund from the first account in one run (their amounts add up to
# well under this): a smaller credit balance cannot carry a run.
BEHAVIOUR_SPEND = Decimal("1.00")
_CREATED_REFUND = re.compile(r"^/accounts/([^/]+)/refunds$")
_CREATED_BALANCE_REFUND = re.compile(r"^/accounts/([^/]+)/creditbalancerefunds$")

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

    def shortfalls(self, http: httpx.Client) -> list[str]:
        """What the file names that cannot carry a run as the target has it now (nothing,
        when the target gives no clear answer: the tests will say what they find)."""
        try:
            return self._shortfalls(http)
        except _Unclear:
            return []

    def _shortfalls(self, http: httpx.Client) -> list[str]:
        found = []
        named = [str(token) for token in self.section.get("refundable_accounts") or []]
        # The last one is the generated requests' (it may be empty: they expect refusals);
        # the behaviour tests refund from the first, so it must carry a run.
        for token in named[:1]:
            balance = _balance(http, token)
            if balance is None:
                found.append(f"marqeta.refundable_accounts: no account {token} on the target")
            elif balance > -BEHAVIOUR_SPEND:
                found.append(
                    f"marqeta.refundable_accounts: {token} has current_balance {balance}; a run"
                    f" needs {-BEHAVIOUR_SPEND} or less: refill its credit balance"
                )
        spent = self.section.get("non_negative_balance_account")
        if spent:
            balance = _balance(http, str(spent))
            if balance is None or balance < 0:
                found.append(
                    f"marqeta.non_negative_balance_account: {spent} has current_balance"
                    f" {balance}, not 0 or more"
                )
        return found


class _Unclear(Exception):
    """The target gave no clear answer (a 401, a 5xx, no balance): the file is not judged."""


def _balance(http: httpx.Client, account: str) -> Decimal | None:
    """The account's credit balance; None when the target says there is no such account."""
    answer = http.get(f"/accounts/{account}")
    if answer.status_code == 404:
        return None
    shown = answer.json().get("current_balance") if answer.status_code == 200 else None
    if not isinstance(shown, int | float | str) or isinstance(shown, bool):
        raise _Unclear(f"GET /accounts/{account} answered {answer.status_code}")
    return Decimal(str(shown))


def give_back(http: httpx.Client, created: Iterable[Created]) -> list[str]:
    """Move each refund the run made to a status that returns its amount (the lifecycle's
    ``returns_amount``), step by step; say how many went back and which could not."""
    created = list(created)
    refunds = [
        (match.group(1), str(made.body["token"]))
        for made in created
        if (match := _CREATED_REFUND.match(made.path))
        and isinstance(made.body, dict)
        and "token" in made.body
    ]
    balance_refunds = sum(1 for made in created if _CREATED_BALANCE_REFUND.match(made.path))
    kept = (
        [f"left behind {balance_refunds} balance refunds (they cannot be undone)"]
        if balance_refunds
        else []
    )
    if not refunds:
        return kept
    left = []
    for account, token in refunds:
        if not _moved_back(http, f"/accounts/{account}/refunds/{token}"):
            left.append(f"{token} on {account}")
    given = len(refunds) - len(left)
    lines = [
        f"gave back {given} of the {len(refunds)} refunds the run made (moved to"
        f" {' or '.join(sorted(LIFECYCLE.returns_amount))}: their amounts are on the credit"
        " balances again)"
    ]
    if left:
        lines.append(f"left behind {len(left)} that cannot be undone: {', '.join(left[:10])}")
    return lines + kept


def _moved_back(http: httpx.Client, where: str) -> bool:
    try:
        current = http.get(where)
        steps = _steps_back(current.json().get("status")) if current.status_code == 200 else None
        return steps is not None and all(
            http.post(
                f"{where}/transitions", json={"token": str(uuid.uuid4()), "status": step}
            ).status_code
            == 201
            for step in steps
        )
    except (httpx.HTTPError, ValueError):
        return False


def _steps_back(status: str | None) -> list[str] | None:
    """The statuses from ``status`` to the nearest one that returns the amount (none if it
    is already there), or None when no allowed move leads to one: the mock's own path finder
    over the contract's lifecycle."""
    if status in LIFECYCLE.returns_amount:
        return []
    routes = []
    for target in sorted(LIFECYCLE.returns_amount):
        with contextlib.suppress(DomainError):
            routes.append(steps_to(LIFECYCLE, str(status), target))
    return min(routes, key=len, default=None)


def pinned_parameters(setup: MarqetaSetup) -> dict[str, str]:
    return {"account_token": setup.account_for_property_tests()}
