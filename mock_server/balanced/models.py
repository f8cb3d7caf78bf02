"""Balanced v1 resources as the domain sees them: integer cents, aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Marketplace:
    id: str
    name: str
    domain_url: str | None
    support_email_address: str | None
    meta: dict[str, str]
    created_at: datetime
    # The escrow balance in cents: succeeded debits add, refunds take. None in a record stored
    # before the mock kept it; the service works it out from the marketplace's debits.
    in_escrow: int | None = None


@dataclass(frozen=True)
class Account:
    id: str
    marketplace_id: str
    name: str | None
    email_address: str | None
    roles: list[str]
    meta: dict[str, str]
    card_id: str  # the card debits are drawn from (debit source_uri)
    created_at: datetime


@dataclass(frozen=True)
class Debit:
    id: str
    marketplace_id: str
    account_id: str
    amount: int
    fee: int
    description: str | None
    transaction_number: str
    appears_on_statement_as: str
    meta: dict[str, str]
    hold_id: str
    card_id: str  # the account's card the debit was drawn from
    created_at: datetime
    available_at: datetime
    refunded: int  # cents refunded so far
    fee_reversed: int  # fee cents reversed so far (positive)
    status: str = "succeeded"  # DebitStatus; records stored before debits had states succeeded

    @property
    def remainder(self) -> int:
        return self.amount - self.refunded


@dataclass(frozen=True)
class Refund:
    id: str
    marketplace_id: str
    account_id: str
    debit_id: str
    amount: int
    fee: int  # negative: the fee reversed by this refund
    description: str | None
    transaction_number: str
    appears_on_statement_as: str
    meta: dict[str, str]
    created_at: datetime


# What each is stored as (a record's kind) ------------------------------------------------

MARKETPLACE = "balanced.marketplace"
ACCOUNT = "balanced.account"
DEBIT = "balanced.debit"
REFUND = "balanced.refund"
# Every model kept, by kind: what an imported state may hold.
MODELS: dict[str, type] = {MARKETPLACE: Marketplace, ACCOUNT: Account, DEBIT: Debit, REFUND: Refund}
# The records each kind's fields name (a state import checks that they exist).
REFERENCES: dict[str, dict[str, str]] = {
    ACCOUNT: {"marketplace_id": MARKETPLACE},
    DEBIT: {"marketplace_id": MARKETPLACE, "account_id": ACCOUNT},
    REFUND: {"marketplace_id": MARKETPLACE, "account_id": ACCOUNT, "debit_id": DEBIT},
}
