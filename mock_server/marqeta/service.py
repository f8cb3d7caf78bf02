"""Marqeta Credit use cases: each reads, checks the rules and writes in one store transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from mock_server.clock import Clock
from mock_server.domain import DomainError
from mock_server.ids import uuid_token
from mock_server.marqeta import rules
from mock_server.marqeta.errors import MarqetaKind
from mock_server.marqeta.models import (
    ACCOUNT,
    BALANCE_REFUND,
    JOURNAL_ENTRY,
    PAYMENT_SOURCE,
    REFUND,
    TRANSITION,
    Account,
    BalanceRefund,
    JournalEntry,
    PaymentSource,
    Refund,
    Transition,
)
from mock_server.marqeta.rules import Lifecycle
from mock_server.paging import Page
from mock_server.records import (
    add_new,
    decoded,
    from_record,
    load,
    load_records,
    stored_time,
    to_record,
)
from mock_server.spec import Contract, schema
from mock_server.store import (
    Condition,
    Listing,
    OneOf,
    PageQuery,
    Record,
    Store,
    Transaction,
    Within,
)

T = TypeVar("T")


# How each kind is listed (contract: the sort_by parameters); the store keeps these ordered.
ACCOUNTS = Listing(ACCOUNT, order_by="updated_at")
PAYMENT_SOURCES = Listing(PAYMENT_SOURCE, order_by="updated_at")
REFUNDS = Listing(REFUND, order_by="updated_at", filter_by=("status", "created_at"))
TRANSITIONS = Listing(TRANSITION, order_by="created_at")
JOURNAL_ENTRIES = Listing(JOURNAL_ENTRY, order_by="created_at")
LISTINGS = (ACCOUNTS, PAYMENT_SOURCES, REFUNDS, TRANSITIONS, JOURNAL_ENTRIES)
# What a token of a kind owned by an account answers when the account has none such.
NOT_FOUND = {
    PAYMENT_SOURCE: (MarqetaKind.PAYMENT_SOURCE_NOT_FOUND, "Payment source"),
    REFUND: (MarqetaKind.REFUND_NOT_FOUND, "Refund"),
}
_ALL = 1 << 62  # a page size that holds any listing


@dataclass(frozen=True)
class Policy:
    """What the contract decides about refunds, read once at start-up."""

    refund_lifecycle: Lifecycle
    balance_refund_lifecycle: Lifecycle
    default_currency: str
    fraction_digits: int
    # (group, type) of the journal entry each balance move writes: balance_refund, refund,
    # refund_reversal (contract: x-mock-journal-entries on JournalEntry)
    journal_entries: dict[str, tuple[str, str]]

    @classmethod
    def from_contract(cls, contract: Contract) -> Policy:
        return cls(
            refund_lifecycle=Lifecycle.from_contract(
                schema(contract, "RefundStatus")["x-mock-lifecycle"]
            ),
            balance_refund_lifecycle=Lifecycle.from_contract(
                schema(contract, "BalanceRefundStatus")["x-mock-lifecycle"]
            ),
            default_currency=schema(contract, "CurrencyCode")["enum"][0],
            fraction_digits=schema(contract, "RequestAmount")["x-mock-fraction-digits"],
            journal_entries={
                move: (entry["group"], entry["type"])
                for move, entry in schema(contract, "JournalEntry")[
                    "x-mock-journal-entries"
                ].items()
            },
        )


@dataclass(frozen=True)
class ListQuery:
    count: int
    start_index: int
    sort_by: str
    statuses: frozenset[str] = frozenset()
    start_date: date | None = None
    end_date: date | None = None

    @property
    def descending(self) -> bool:
        return self.sort_by.startswith("-")  # the contract's sort_by: field or -field


@dataclass(frozen=True)
class NewPaymentSource:
    type: str
    account_suffix: str
    name: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class NewAccount:
    current_balance: Decimal
    credit_limit: Decimal
    token: str | None = None
    currency_code: str | None = None
    type: str = "CONSUMER"
    payment_sources: tuple[NewPaymentSource, ...] = ()


@dataclass(frozen=True)
class NewRefund:
    method: str
    type: str
    token: str | None = None
    payment_source_token: str | None = None
    amount: Decimal | None = None
    currency_code: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class NewBalanceRefund:
    method: str
    amount: Decimal
    description: str
    currency_code: str
    token: str | None = None


def _new_token(requested: str | None) -> str:
    return requested or uuid_token()


class MarqetaService:
    def __init__(self, clock: Clock, policy: Policy) -> None:
        self.clock = clock
        self.policy = policy

    # Accounts and payment sources ----------------------------------------------------------

    def open_account(self, store: Store, new: NewAccount) -> tuple[Account, list[PaymentSource]]:
        """Open an account with its payment sources, all or nothing."""
        with store.transaction() as tx:
            return self.open_account_in(tx, new)

    def open_account_in(
        self, tx: Transaction, new: NewAccount
    ) -> tuple[Account, list[PaymentSource]]:
        """``open_account`` inside the caller's transaction (fixtures land all or nothing)."""
        # Chosen tokens read first: one taken is refused at its add, on every store.
        tx.read_ahead(
            (ACCOUNT, new.token), *((PAYMENT_SOURCE, s.token) for s in new.payment_sources)
        )
        digits = self.policy.fraction_digits
        rules.amount_within_precision(new.current_balance, digits, "current_balance")
        rules.amount_within_precision(new.credit_limit, digits, "credit_limit")
        now = self.clock.now()
        account = Account(
            token=_new_token(new.token),
            status="ACTIVE",
            currency_code=new.currency_code or self.policy.default_currency,
            credit_limit=new.credit_limit,
            current_balance=new.current_balance,
            created_at=now,
            updated_at=now,
            type=new.type,
        )
        sources = [
            PaymentSource(
                token=_new_token(source.token),
                account_token=account.token,
                type=source.type,
                name=source.name,
                account_suffix=source.account_suffix,
                status="ACTIVE",
                created_at=now,
                updated_at=now,
            )
            for source in new.payment_sources
        ]
        _add(tx, ACCOUNT, account.token, account)
        for source in sources:
            _add(tx, PAYMENT_SOURCE, source.token, source, owners=(account.token,))
        return account, sources

    def account(self, store: Store, account_token: str) -> Account:
        with store.transaction() as tx:
            return _account(tx, account_token)

    def accounts(self, store: Store, query: ListQuery) -> Page[Account]:
        with store.transaction() as tx:
            return _page(tx, ACCOUNTS, "", Account, query)

    def account_count(self, store: Store) -> int:
        with store.transaction() as tx:
            return tx.page(ACCOUNT, "", PageQuery(offset=0, limit=0))[1]

    def payment_source(self, store: Store, account_token: str, token: str) -> PaymentSource:
        with store.transaction() as tx:
            _account(tx, account_token)
            return _owned_by(tx, PAYMENT_SOURCE, PaymentSource, token, account_token)

    def payment_sources(
        self, store: Store, account_token: str, query: ListQuery
    ) -> Page[PaymentSource]:
        with store.transaction() as tx:
            _account(tx, account_token)
            return _page(tx, PAYMENT_SOURCES, account_token, PaymentSource, query)

    def journal_entries(
        self, store: Store, account_token: str, query: ListQuery
    ) -> Page[JournalEntry]:
        with store.transaction() as tx:
            _account(tx, account_token)
            return _page(tx, JOURNAL_ENTRIES, account_token, JournalEntry, query)

    # Balance refunds ---------------------------------------------------------------------

    def create_balance_refund(
        self, store: Store, account_token: str, new: NewBalanceRefund
    ) -> BalanceRefund:
        now = self.clock.now()
        with store.transaction() as tx:
            tx.read_ahead((ACCOUNT, account_token), (BALANCE_REFUND, new.token))
            account = _account(tx, account_token)
            _token_unused(tx, BALANCE_REFUND, new.token)
            rules.amount_within_precision(new.amount, self.policy.fraction_digits, "amount")
            amount = rules.refund_within_credit_balance(account.current_balance, new.amount)
            refund = BalanceRefund(
                token=_new_token(new.token),
                account_token=account_token,
                status=self.policy.balance_refund_lifecycle.initial,
                method=new.method,
                amount=amount,
                description=new.description,
                created_at=now,
                updated_at=now,
            )
            _add(tx, BALANCE_REFUND, refund.token, refund, owners=(account_token,))
            self._move_balance(tx, account, amount, refund.token, "balance_refund")
        return refund

    # Refunds -----------------------------------------------------------------------------

    def create_refund(self, store: Store, account_token: str, new: NewRefund) -> Refund:
        now = self.clock.now()
        with store.transaction() as tx:
            tx.read_ahead(
                (ACCOUNT, account_token),
                (REFUND, new.token),
                (PAYMENT_SOURCE, new.payment_source_token),
            )
            account = _account(tx, account_token)
            _token_unused(tx, REFUND, new.token)
            if new.payment_source_token is not None:
                _payment_source_of(tx, account_token, new.payment_source_token)
            if new.amount is not None:
                rules.amount_within_precision(new.amount, self.policy.fraction_digits, "amount")
            amount = rules.refund_within_credit_balance(account.current_balance, new.amount)
            refund = Refund(
                token=_new_token(new.token),
                account_token=account_token,
                status=self.policy.refund_lifecycle.initial,
                method=new.method,
                type=new.type,
                payment_source_token=new.payment_source_token,
                amount=amount,
                currency_code=new.currency_code or account.currency_code,
                description=new.description,
                created_at=now,
                updated_at=now,
            )
            _add(tx, REFUND, refund.token, refund, owners=(account_token,))
            self._move_balance(tx, account, amount, refund.token, "refund")
        return refund

    def refund(self, store: Store, account_token: str, refund_token: str) -> Refund:
        with store.transaction() as tx:
            tx.read_ahead((ACCOUNT, account_token), (REFUND, refund_token))
            _account(tx, account_token)
            return _owned_by(tx, REFUND, Refund, refund_token, account_token)

    def refunds(self, store: Store, account_token: str, query: ListQuery) -> Page[Refund]:
        return decoded(self.refund_records(store, account_token, query), Refund)

    def refund_records(self, store: Store, account_token: str, query: ListQuery) -> Page[Record]:
        """``refunds`` as stored, undecoded: what a list answer writes from (kept answers)."""
        rules.date_range(query.start_date, query.end_date)
        low, high = rules.creation_bounds(query.start_date, query.end_date)
        where: tuple[Condition, ...] = (Within("created_at", low, high),) if low or high else ()
        if query.statuses:
            where += (OneOf("status", query.statuses),)
        with store.transaction() as tx:
            _account(tx, account_token)
            return _records(tx, REFUNDS, account_token, query, where)

    def transition_refund(
        self,
        store: Store,
        account_token: str,
        refund_token: str,
        status: str,
        token: str | None = None,
    ) -> Refund:
        with store.transaction() as tx:
            tx.read_ahead((ACCOUNT, account_token), (REFUND, refund_token), (TRANSITION, token))
            _account(tx, account_token)
            refund = _owned_by(tx, REFUND, Refund, refund_token, account_token)
            _token_unused(tx, TRANSITION, token)
            return self._transition_in(tx, refund, status, token)

    def advance_refund(self, store: Store, refund_token: str, status: str | None = None) -> Refund:
        """Move a refund one step along the forward path, or to ``status`` through the allowed
        transitions, recording each step as a transition would (all steps or none)."""
        with store.transaction() as tx:
            refund = load(tx, REFUND, refund_token, Refund)
            if refund is None:
                raise DomainError(MarqetaKind.REFUND_NOT_FOUND, f"Refund not found: {refund_token}")
            return self._move_in(tx, refund, status)

    def advanceable(self, refund: Refund) -> bool:
        """Whether ``advance_refund`` without a status can move it (it is not at the end of
        the forward path, nor off it)."""
        return rules.has_next_step(self.policy.refund_lifecycle, refund.status)

    def simulate_transition(
        self, store: Store, account_token: str, refund_token: str, status: str
    ) -> Refund:
        """The vendor's simulation: the refund moves to ``status`` as the processor would move
        it, through the allowed transitions (all steps or none)."""
        with store.transaction() as tx:
            _account(tx, account_token)
            refund = _owned_by(tx, REFUND, Refund, refund_token, account_token)
            return self._move_in(tx, refund, status)

    def _move_in(self, tx: Transaction, refund: Refund, status: str | None) -> Refund:
        for step in rules.steps_to(self.policy.refund_lifecycle, refund.status, status):
            refund = self._transition_in(tx, refund, step)
        return refund

    def advance_due(self, store: Store, unchanged_since: datetime) -> int:
        """Move every refund on the forward path that has not changed since ``unchanged_since``
        one step on (``--lifecycle auto``); how many moved. Each moves in its own transaction."""
        moving = frozenset(self.policy.refund_lifecycle.forward[:-1])
        cutoff = stored_time(unchanged_since)
        with store.transaction() as tx:
            accounts = [record["token"] for record in tx.owned(ACCOUNT)]
        moved = 0
        for account_token in accounts:
            with store.transaction() as tx:
                on_the_way = PageQuery(0, _ALL, where=(OneOf("status", moving),))
                found, _ = tx.page(REFUND, account_token, on_the_way)
            # Stored times compare as text; the rest wait for a later tick.
            due = [record for record in found if record["updated_at"] <= cutoff]
            for record in due:
                with store.transaction() as tx:
                    refund = load(tx, REFUND, record["token"], Refund)
                    # Checked again inside the transaction: another worker may have moved it.
                    if refund is None or refund.status not in moving:
                        continue
                    if refund.updated_at > unchanged_since:
                        continue
                    step = rules.steps_to(self.policy.refund_lifecycle, refund.status, None)[0]
                    self._transition_in(tx, refund, step)
                    moved += 1
        return moved

    def _transition_in(
        self, tx: Transaction, refund: Refund, status: str, token: str | None = None
    ) -> Refund:
        now = self.clock.now()
        lifecycle = self.policy.refund_lifecycle
        rules.allowed_transition(lifecycle, refund.status, status)
        moved = replace(refund, status=status, updated_at=now)
        tx.replace(REFUND, refund.token, to_record(moved))
        transition = Transition(
            token=_new_token(token),
            account_token=refund.account_token,
            refund_token=refund.token,
            status=status,
            created_at=now,
        )
        _add(tx, TRANSITION, transition.token, transition, owners=(refund.token,))
        if status in lifecycle.returns_amount:
            account = _account(tx, refund.account_token)
            self._move_balance(tx, account, -refund.amount, refund.token, "refund_reversal")
        return moved

    def transitions(
        self, store: Store, account_token: str, refund_token: str, query: ListQuery
    ) -> Page[Transition]:
        with store.transaction() as tx:
            tx.read_ahead((ACCOUNT, account_token), (REFUND, refund_token))
            _account(tx, account_token)
            _owned_by(tx, REFUND, Refund, refund_token, account_token)
            return _page(tx, TRANSITIONS, refund_token, Transition, query)

    # -------------------------------------------------------------------------------------

    def _move_balance(
        self,
        tx: Transaction,
        account: Account,
        change: Decimal,
        detail_token: str,
        move: str,
    ) -> None:
        """Apply ``change`` to the balance and write the journal entry that records it."""
        now = self.clock.now()
        moved = replace(account, current_balance=account.current_balance + change, updated_at=now)
        tx.replace(ACCOUNT, account.token, to_record(moved))
        group, entry_type = self.policy.journal_entries[move]
        entry = JournalEntry(
            token=uuid_token(),
            account_token=account.token,
            amount=change,
            currency_code=account.currency_code,
            group=group,
            type=entry_type,
            status="POSTED",
            detail_token=detail_token,
            impact_at=now,
            created_at=now,
        )
        _add(tx, JOURNAL_ENTRY, entry.token, entry, owners=(account.token,))


def _page(
    tx: Transaction,
    listing: Listing,
    owner: str,
    model: type[T],
    query: ListQuery,
    where: tuple[OneOf | Within, ...] = (),
) -> Page[T]:
    return decoded(_records(tx, listing, owner, query, where), model)


def _records(
    tx: Transaction,
    listing: Listing,
    owner: str,
    query: ListQuery,
    where: tuple[OneOf | Within, ...] = (),
) -> Page[Record]:
    """The page ``query`` asks for, as stored."""
    return load_records(tx, listing, owner, query.start_index, query.count, query.descending, where)


def _add(
    tx: Transaction, kind: str, key: str, obj: object, owners: tuple[str, ...] = ("",)
) -> None:
    """A new record; its token in use already is Marqeta's duplicate_token."""
    add_new(tx, kind, key, obj, owners, taken=MarqetaKind.DUPLICATE_TOKEN)


def _token_unused(tx: Transaction, kind: str, token: str | None) -> None:
    """Refuse a client token early, before any rule that would otherwise answer first."""
    if token and tx.get(kind, token) is not None:
        raise DomainError(MarqetaKind.DUPLICATE_TOKEN, f"Token already in use: {token}")


def _account(tx: Transaction, token: str) -> Account:
    account = load(tx, ACCOUNT, token, Account)
    if account is None:
        raise DomainError(MarqetaKind.ACCOUNT_NOT_FOUND, f"Account not found: {token}")
    return account


def _owned_by(tx: Transaction, kind: str, model: type[T], token: str, account_token: str) -> T:
    """The record ``token`` of ``kind`` if it belongs to the account; its 404 if not."""
    record = tx.get(kind, token)
    if record is None or record["account_token"] != account_token:
        missing, label = NOT_FOUND[kind]
        raise DomainError(missing, f"{label} not found for account {account_token}: {token}")
    return from_record(model, record)


def _payment_source_of(tx: Transaction, account_token: str, token: str) -> PaymentSource:
    record = tx.get(PAYMENT_SOURCE, token)
    if record is None or record["account_token"] != account_token:
        raise DomainError(
            MarqetaKind.UNKNOWN_PAYMENT_SOURCE,
            f"payment_source_token {token} is not a payment source of account {account_token}",
        )
    return from_record(PaymentSource, record)
