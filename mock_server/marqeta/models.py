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
