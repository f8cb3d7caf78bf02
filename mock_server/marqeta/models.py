"""Marqeta Credit resources as the domain sees them: exact Decimal money, aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class Account:
    token: str
    status: str
    currency_code: str
    credit_limit: Decimal
    current_balance: Decimal
    created_at: datetime
    updated_at: datetime
    type: str = "CONSUMER"  # added with the vendor's required fields: older records lack it

    @property
    def available_credit(self) -> Decimal:
        return self.credit_limit - self.current_balance


@dataclass(frozen=True)
class PaymentSource:
    token: str
    account_token: str
    type: str
    name: str | None
    account_suffix: str
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class BalanceRefund:
    token: str
    account_token: str
    status: str
    method: str
    amount: Decimal
    description: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Refund:
    token: str
    account_token: str
    status: str
    method: str
    type: str
    payment_source_token: str | None
    amount: Decimal
    currency_code: str
    description: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Transition:
    token: str
    account_token: str
    refund_token: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class JournalEntry:
    token: str
    account_token: str
    amount: Decimal  # signed change to the account's current_balance
    currency_code: str
    group: str
    type: str
    status: str
    detail_token: str
    impact_at: datetime
    created_at: datetime


# What each is stored as (a record's kind) ------------------------------------------------

ACCOUNT = "marqeta.account"
PAYMENT_SOURCE = "marqeta.payment_source"
BALANCE_REFUND = "marqeta.balance_refund"
REFUND = "marqeta.refund"
TRANSITION = "marqeta.transition"
JOURNAL_ENTRY = "marqeta.journal_entry"
# Every model kept, by kind: what an imported state may hold.
MODELS: dict[str, type] = {
    ACCOUNT: Account,
    PAYMENT_SOURCE: PaymentSource,
    BALANCE_REFUND: BalanceRefund,
    REFUND: Refund,
    TRANSITION: Transition,
    JOURNAL_ENTRY: JournalEntry,
}
# The records each kind's fields name (a state import checks that they exist).
REFERENCES: dict[str, dict[str, str]] = {
    PAYMENT_SOURCE: {"account_token": ACCOUNT},
    BALANCE_REFUND: {"account_token": ACCOUNT},
    REFUND: {"account_token": ACCOUNT},
    TRANSITION: {"account_token": ACCOUNT, "refund_token": REFUND},
    JOURNAL_ENTRY: {"account_token": ACCOUNT},
}
