"""Balanced v1 use cases: each reads, checks the rules and writes in one store transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TypeVar

from mock_server.balanced import rules, uris
from mock_server.balanced.errors import BalancedKind
from mock_server.balanced.models import (
    ACCOUNT,
    DEBIT,
    MARKETPLACE,
    REFUND,
    Account,
    Debit,
    Marketplace,
    Refund,
)
from mock_server.clock import Clock
from mock_server.domain import DomainError
from mock_server.error_kinds import Common, ControlKind
from mock_server.ids import digit_groups, prefixed_id
from mock_server.paging import Page
from mock_server.records import (
    add_new,
    from_record,
    load,
    load_owned,
    load_page,
    load_records,
    to_record,
)
from mock_server.spec import Contract, schema
from mock_server.store import Listing, Record, Store, Transaction

T = TypeVar("T")
# Balanced makes every id; only a fixtures file (through the control API or at start-up) names
# one, and naming one twice is the control API's duplicate_token.
SEEDED_TWICE = ControlKind.DUPLICATE_TOKEN

# Every list is oldest first (contract: info.description); the store keeps them ordered.
MARKETPLACES = Listing(MARKETPLACE, order_by="created_at")
ACCOUNTS = Listing(ACCOUNT, order_by="created_at")
DEBITS = Listing(DEBIT, order_by="created_at")
REFUNDS = Listing(REFUND, order_by="created_at")
LISTINGS = (MARKETPLACES, ACCOUNTS, DEBITS, REFUNDS)


def _in_marketplace(marketplace_id: str) -> str:
    return f"marketplace:{marketplace_id}"


def _of_account(account_id: str) -> str:
    return f"account:{account_id}"


def _of_debit(debit_id: str) -> str:
    return f"debit:{debit_id}"


# The owners each kind is listed under (what its pages are the pages of) -------------------


def account_owners(marketplace_id: str) -> tuple[str, ...]:
    return (_in_marketplace(marketplace_id),)


def debit_owners(marketplace_id: str, account_id: str) -> tuple[str, ...]:
    return (_in_marketplace(marketplace_id), _of_account(account_id))


def refund_owners(marketplace_id: str, account_id: str, debit_id: str) -> tuple[str, ...]:
    return (_in_marketplace(marketplace_id), _of_account(account_id), _of_debit(debit_id))


@dataclass(frozen=True)
class Policy:
    """What the contract decides about debits, read once at start-up."""

    fee_basis_points: int
    statement_length: int
    available_after: timedelta  # from a debit's creation to its funds' availability
    escrow_limit: int  # the most a marketplace's escrow may hold (Cents' maximum)
    refundable_status: str  # the only debit status a refund may be drawn on
    debit_transitions: Mapping[str, tuple[str, ...]]  # status -> what it may become

    @classmethod
    def from_contract(cls, contract: Contract) -> Policy:
        create_debit = contract["paths"][
            "/marketplaces/{marketplace_id}/accounts/{account_id}/debits"
        ]
        statement = schema(contract, "DebitCreateReq")["properties"]["appears_on_statement_as"]
        status = schema(contract, "DebitStatus")
        return cls(
            fee_basis_points=create_debit["post"]["x-mock-fee-basis-points"],
            available_after=timedelta(
                seconds=create_debit["post"]["x-mock-available-after-seconds"]
            ),
            statement_length=statement["maxLength"],
            escrow_limit=schema(contract, "Cents")["maximum"],
            refundable_status=status["x-mock-refundable"],
            debit_transitions={
                before: tuple(after) for before, after in status["x-mock-transitions"].items()
            },
        )


@dataclass(frozen=True)
class NewMarketplace:
    name: str
    id: str | None = None
    domain_url: str | None = None
    support_email_address: str | None = None


@dataclass(frozen=True)
class NewAccount:
    id: str | None = None
    name: str | None = None
    email_address: str | None = None
    roles: tuple[str, ...] = ("buyer",)


@dataclass(frozen=True)
class NewDebit:
    amount: int
    id: str | None = None
    fee: int | None = None
    description: str | None = None
    appears_on_statement_as: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    status: str = "succeeded"  # fixtures may make pending and failed debits


@dataclass(frozen=True)
class NewRefund:
    amount: int | None = None
    description: str | None = None
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundChanges:
    description: str | None = None
    meta: dict[str, str] | None = None


@dataclass(frozen=True)
class RefundDetail:
    """A refund with the account and debit it embeds, read in one transaction."""

    refund: Refund
    account: Account
    debit: Debit


@dataclass(frozen=True)
class StoredRefunds:
    """A page of refunds as stored, with the accounts and debits they embed (each read once:
    a page's refunds mostly share one), read in one transaction."""

    page: Page[Record]
    accounts: dict[str, Record]
    debits: dict[str, Record]

    def decoded(self) -> Page[RefundDetail]:
        accounts = {key: from_record(Account, record) for key, record in self.accounts.items()}
        debits = {key: from_record(Debit, record) for key, record in self.debits.items()}
        return self.page.converted(
            lambda refund: RefundDetail(
                from_record(Refund, refund),
                accounts[refund["account_id"]],
                debits[refund["debit_id"]],
            )
        )


class BalancedService:
    def __init__(self, clock: Clock, policy: Policy) -> None:
        self.clock = clock
        self.policy = policy

    # Seeding (also used by fixtures, inside the caller's transaction) -------------------------

    def open_marketplace_in(self, tx: Transaction, new: NewMarketplace) -> Marketplace:
        marketplace = Marketplace(
            id=new.id or prefixed_id("TEST-MP"),
            name=new.name,
            domain_url=new.domain_url,
            support_email_address=new.support_email_address,
            meta={},
            created_at=self.clock.now(),
            in_escrow=0,
        )
        tx.read_ahead((MARKETPLACE, new.id))  # a chosen id taken is refused at its add
        add_new(tx, MARKETPLACE, marketplace.id, marketplace, taken=SEEDED_TWICE)
        return marketplace

    def set_escrow_in(self, tx: Transaction, marketplace_id: str, in_escrow: int) -> Marketplace:
        """Set the marketplace's escrow (money paid out or in by means the mock does not model,
        such as credits)."""
        marketplace = replace(_marketplace(tx, marketplace_id), in_escrow=in_escrow)
        tx.replace(MARKETPLACE, marketplace_id, to_record(marketplace))
        return marketplace

    def open_account_in(self, tx: Transaction, marketplace_id: str, new: NewAccount) -> Account:
        tx.read_ahead((MARKETPLACE, marketplace_id), (ACCOUNT, new.id))
        _marketplace(tx, marketplace_id)
        account = Account(
            id=new.id or prefixed_id("AC"),
            marketplace_id=marketplace_id,
            name=new.name,
            email_address=new.email_address,
            roles=list(new.roles),
            meta={},
            card_id=prefixed_id("CC"),
            created_at=self.clock.now(),
        )
        add_new(
            tx,
            ACCOUNT,
            account.id,
            account,
            owners=account_owners(marketplace_id),
            taken=SEEDED_TWICE,
        )
        return account

    def debit_account_in(
        self, tx: Transaction, marketplace_id: str, account_id: str, new: NewDebit
    ) -> Debit:
        tx.read_ahead(
            (MARKETPLACE, marketplace_id),
            (ACCOUNT, account_id),
            (DEBIT, new.id),
        )
        marketplace = _marketplace(tx, marketplace_id)
        account = _account(tx, marketplace_id, account_id)
        now = self.clock.now()
        debit = Debit(
            id=new.id or prefixed_id("WD"),
            marketplace_id=marketplace_id,
            account_id=account_id,
            amount=new.amount,
            fee=new.fee
            if new.fee is not None
            else rules.debit_fee(new.amount, self.policy.fee_basis_points),
            description=new.description,
            transaction_number=digit_groups("W", 3, 3, 4),
            appears_on_statement_as=new.appears_on_statement_as
            or rules.statement_text(marketplace.name, self.policy.statement_length),
            meta=dict(new.meta),
            hold_id=prefixed_id("HL"),
            card_id=account.card_id,
            created_at=now,
            available_at=now + self.policy.available_after,
            refunded=0,
            fee_reversed=0,
            status=new.status,
        )
        owners = debit_owners(marketplace_id, account_id)
        add_new(tx, DEBIT, debit.id, debit, owners=owners, taken=SEEDED_TWICE)
        if debit.status == self.policy.refundable_status:
            self._add_to_escrow(tx, marketplace, debit.amount)
        return debit

    def set_debit_status(
        self, store: Store, marketplace_id: str, debit_id: str, status: str
    ) -> Debit:
        """Move a pending debit to ``status`` (it succeeds or fails); a success puts its amount
        in the marketplace's escrow."""
        with store.transaction() as tx:
            marketplace = _marketplace(tx, marketplace_id)
            debit = _debit(tx, marketplace_id, debit_id)
            if not rules.debit_status_change(
                debit.id, debit.status, status, self.policy.debit_transitions
            ):
                return debit
            moved = replace(debit, status=status)
            tx.replace(DEBIT, debit.id, to_record(moved))
            if status == self.policy.refundable_status:
                self._add_to_escrow(tx, marketplace, debit.amount)
            return moved

    def set_escrow(self, store: Store, marketplace_id: str, in_escrow: int) -> Marketplace:
        with store.transaction() as tx:
            return self.set_escrow_in(tx, marketplace_id, in_escrow)

    # Reads ------------------------------------------------------------------------------------

    def debit_account(
        self, store: Store, marketplace_id: str, account_id: str, new: NewDebit
    ) -> Debit:
        with store.transaction() as tx:
            return self.debit_account_in(tx, marketplace_id, account_id, new)

    def marketplaces(self, store: Store, offset: int, limit: int) -> Page[Marketplace]:
        with store.transaction() as tx:
            page = load_page(tx, MARKETPLACES, "", Marketplace, offset, limit)
            return page.converted(lambda marketplace: self._with_escrow(tx, marketplace))

    def marketplace(self, store: Store, marketplace_id: str) -> Marketplace:
        with store.transaction() as tx:
            return self.marketplace_in(tx, marketplace_id)

    def marketplace_in(self, tx: Transaction, marketplace_id: str) -> Marketplace:
        return self._with_escrow(tx, _marketplace(tx, marketplace_id))

    def accounts(self, store: Store, marketplace_id: str, offset: int, limit: int) -> Page[Account]:
        with store.transaction() as tx:
            _marketplace(tx, marketplace_id)
            return load_page(tx, ACCOUNTS, _in_marketplace(marketplace_id), Account, offset, limit)

    def account(self, store: Store, marketplace_id: str, account_id: str) -> Account:
        with store.transaction() as tx:
            _marketplace(tx, marketplace_id)
            return _account(tx, marketplace_id, account_id)

    def debits(
        self,
        store: Store,
        marketplace_id: str,
        offset: int,
        limit: int,
        account_id: str | None = None,
    ) -> Page[Debit]:
        with store.transaction() as tx:
            _marketplace(tx, marketplace_id)
            if account_id is None:
                owner = _in_marketplace(marketplace_id)
            else:
                _account(tx, marketplace_id, account_id)
                owner = _of_account(account_id)
            return load_page(tx, DEBITS, owner, Debit, offset, limit)

    def debit(self, store: Store, marketplace_id: str, debit_id: str) -> Debit:
        with store.transaction() as tx:
            _marketplace(tx, marketplace_id)
            return _debit(tx, marketplace_id, debit_id)

    def refund_records(
        self,
        store: Store,
        marketplace_id: str,
        offset: int,
        limit: int,
        account_id: str | None = None,
        debit_id: str | None = None,
    ) -> StoredRefunds:
        """The marketplace's refunds, or only one account's or one debit's, as stored: what a
        list answer writes from (kept answers); ``decoded()`` gives them as models."""
        with store.transaction() as tx:
            _marketplace(tx, marketplace_id)
            owner = _in_marketplace(marketplace_id)
            if account_id is not None:
                _account(tx, marketplace_id, account_id)
                owner = _of_account(account_id)
            if debit_id is not None:
                _debit(tx, marketplace_id, debit_id)
                owner = _of_debit(debit_id)
            page = load_records(tx, REFUNDS, owner, offset, limit)
            accounts = {refund["account_id"] for refund in page.items}
            debits = {refund["debit_id"] for refund in page.items}
            return StoredRefunds(
                page,
                {key: _stored_record(tx, ACCOUNT, key) for key in accounts},
                {key: _stored_record(tx, DEBIT, key) for key in debits},
            )

    def refund(
        self, store: Store, marketplace_id: str, refund_id: str, account_id: str | None = None
    ) -> RefundDetail:
        with store.transaction() as tx:
            tx.read_ahead((MARKETPLACE, marketplace_id), (REFUND, refund_id))
            _marketplace(tx, marketplace_id)
            return _detail(tx, _refund(tx, marketplace_id, refund_id, account_id))

    # Refunds ----------------------------------------------------------------------------------

    def refund_debit(
        self,
        store: Store,
        marketplace_id: str,
        debit_uri: str,
        new: NewRefund,
        account_id: str | None = None,
    ) -> RefundDetail:
        """Refund the debit ``debit_uri`` names (which must be the account's, if one is given)."""
        with store.transaction() as tx:
            named = uris.parse_debit(debit_uri)
            tx.read_ahead(
                (MARKETPLACE, marketplace_id),
                (ACCOUNT, account_id),
                (DEBIT, named[1] if named is not None else None),
            )
            _marketplace(tx, marketplace_id)
            if account_id is not None:
                _account(tx, marketplace_id, account_id)
            debit = _debit_named_by(tx, marketplace_id, debit_uri, account_id)
            return self._refund(tx, debit, new)

    def refund_this_debit(
        self,
        store: Store,
        marketplace_id: str,
        debit_id: str,
        new: NewRefund,
        debit_uri: str | None = None,
    ) -> RefundDetail:
        """Refund debit ``debit_id`` through its own ``refunds_uri``, as Balanced's clients do; a
        ``debit_uri`` sent as well must name the same debit."""
        with store.transaction() as tx:
            tx.read_ahead((MARKETPLACE, marketplace_id), (DEBIT, debit_id))
            _marketplace(tx, marketplace_id)
            debit = _debit(tx, marketplace_id, debit_id)
            if debit_uri is not None:
                named = _debit_named_by(tx, marketplace_id, debit_uri, None)
                if named.id != debit.id:
                    raise DomainError(
                        BalancedKind.REFUND_DEBIT_NOT_FOUND,
                        f"debit_uri {debit_uri!r} names debit {named.id}, not {debit_id}"
                        " whose refunds_uri this is.",
                    )
            return self._refund(tx, debit, new)

    def refund_account(
        self, store: Store, marketplace_id: str, account_id: str, new: NewRefund
    ) -> RefundDetail:
        """Refund the account's most recent debit that has something left to refund."""
        with store.transaction() as tx:
            tx.read_ahead((MARKETPLACE, marketplace_id), (ACCOUNT, account_id))
            _marketplace(tx, marketplace_id)
            _account(tx, marketplace_id, account_id)
            debits = load_owned(tx, DEBIT, _of_account(account_id), Debit)
            if not debits:
                raise DomainError(
                    BalancedKind.NO_DEBIT_TO_REFUND, f"Account {account_id} has no debit to refund."
                )
            refundable = [
                d for d in debits if d.status == self.policy.refundable_status and d.remainder > 0
            ]
            # None left: the newest debit, whose refund fails with the reason it cannot be.
            return self._refund(tx, (refundable or debits)[-1], new)

    def update_refund(
        self,
        store: Store,
        marketplace_id: str,
        refund_id: str,
        changes: RefundChanges,
        account_id: str | None = None,
    ) -> RefundDetail:
        with store.transaction() as tx:
            _marketplace(tx, marketplace_id)
            refund = _refund(tx, marketplace_id, refund_id, account_id)
            updated = replace(
                refund,
                description=refund.description
                if changes.description is None
                else changes.description,
                meta=refund.meta if changes.meta is None else dict(changes.meta),
            )
            tx.replace(REFUND, refund.id, to_record(updated))
            return _detail(tx, updated)

    def _refund(self, tx: Transaction, debit: Debit, new: NewRefund) -> RefundDetail:
        rules.refundable_state(debit.id, debit.status, self.policy.refundable_status)
        amount = rules.refund_within_remainder(debit.id, debit.amount, debit.refunded, new.amount)
        marketplace = self._with_escrow(tx, _marketplace(tx, debit.marketplace_id))
        in_escrow = rules.escrow_after_refund(marketplace.id, _known(marketplace), amount)
        fee = rules.fee_reversal(debit.amount, debit.fee, debit.refunded, amount)
        refund = Refund(
            id=prefixed_id("RF"),
            marketplace_id=debit.marketplace_id,
            account_id=debit.account_id,
            debit_id=debit.id,
            amount=amount,
            fee=fee,
            description=new.description,
            transaction_number=digit_groups("RF", 3, 3, 4),
            appears_on_statement_as=debit.appears_on_statement_as,
            meta=dict(new.meta),
            created_at=self.clock.now(),
        )
        owners = refund_owners(debit.marketplace_id, debit.account_id, debit.id)
        add_new(tx, REFUND, refund.id, refund, owners=owners, taken=Common.INTERNAL_ERROR)
        refunded = replace(
            debit, refunded=debit.refunded + amount, fee_reversed=debit.fee_reversed - fee
        )
        tx.replace(DEBIT, debit.id, to_record(refunded))
        tx.replace(
            MARKETPLACE, marketplace.id, to_record(replace(marketplace, in_escrow=in_escrow))
        )
        return _detail(tx, refund)

    # Escrow -----------------------------------------------------------------------------------

    def _with_escrow(self, tx: Transaction, marketplace: Marketplace) -> Marketplace:
        """``marketplace`` with its escrow known: a record stored before the mock kept escrow
        holds what its succeeded debits brought in, less what was refunded of them."""
        if marketplace.in_escrow is not None:
            return marketplace
        debits = load_owned(tx, DEBIT, _in_marketplace(marketplace.id), Debit)
        held = sum(d.remainder for d in debits if d.status == self.policy.refundable_status)
        return replace(marketplace, in_escrow=held)

    def _add_to_escrow(self, tx: Transaction, marketplace: Marketplace, amount: int) -> None:
        held = _known(self._with_escrow(tx, marketplace))
        in_escrow = rules.escrow_after_debit(marketplace.id, held, amount, self.policy.escrow_limit)
        changed = replace(marketplace, in_escrow=in_escrow)
        tx.replace(MARKETPLACE, marketplace.id, to_record(changed))


def _marketplace(tx: Transaction, marketplace_id: str) -> Marketplace:
    marketplace = load(tx, MARKETPLACE, marketplace_id, Marketplace)
    if marketplace is None:
        raise DomainError(
            BalancedKind.MARKETPLACE_NOT_FOUND, f"Marketplace {marketplace_id} not found."
        )
    return marketplace


def _known(marketplace: Marketplace) -> int:
    assert marketplace.in_escrow is not None, "read through BalancedService._with_escrow"
    return marketplace.in_escrow


def _account(tx: Transaction, marketplace_id: str, account_id: str) -> Account:
    account = load(tx, ACCOUNT, account_id, Account)
    if account is None or account.marketplace_id != marketplace_id:
        raise DomainError(
            BalancedKind.ACCOUNT_NOT_FOUND,
            f"Account {account_id} not found in marketplace {marketplace_id}.",
        )
    return account


def _debit(
    tx: Transaction,
    marketplace_id: str,
    debit_id: str,
    account_id: str | None = None,
    kind: BalancedKind = BalancedKind.DEBIT_NOT_FOUND,
) -> Debit:
    debit = load(tx, DEBIT, debit_id, Debit)
    if (
        debit is None
        or debit.marketplace_id != marketplace_id
        or (account_id is not None and debit.account_id != account_id)
    ):
        where = f"account {account_id}" if account_id else f"marketplace {marketplace_id}"
        raise DomainError(kind, f"Debit {debit_id} not found in {where}.")
    return debit


def _debit_named_by(
    tx: Transaction, marketplace_id: str, debit_uri: str, account_id: str | None
) -> Debit:
    # The documented debit-not-found (409, logical): the request is well formed, the debit it
    # names is not there to refund.
    parsed = uris.parse_debit(debit_uri)
    if parsed is None:
        raise DomainError(
            BalancedKind.REFUND_DEBIT_NOT_FOUND,
            f"debit_uri {debit_uri!r} names no debit "
            "(expected /v1/marketplaces/{marketplace_id}/debits/{debit_id}).",
        )
    uri_marketplace, debit_id = parsed
    if uri_marketplace != marketplace_id:
        raise DomainError(
            BalancedKind.REFUND_DEBIT_NOT_FOUND,
            f"Debit {debit_id} not found in marketplace {marketplace_id}.",
        )
    return _debit(
        tx, marketplace_id, debit_id, account_id, kind=BalancedKind.REFUND_DEBIT_NOT_FOUND
    )


def _refund(tx: Transaction, marketplace_id: str, refund_id: str, account_id: str | None) -> Refund:
    if account_id is not None:
        _account(tx, marketplace_id, account_id)
    refund = load(tx, REFUND, refund_id, Refund)
    if (
        refund is None
        or refund.marketplace_id != marketplace_id
        or (account_id is not None and refund.account_id != account_id)
    ):
        raise DomainError(BalancedKind.REFUND_NOT_FOUND, f"Refund {refund_id} not found.")
    return refund


def _stored_record(tx: Transaction, kind: str, key: str) -> Record:
    found = tx.get(kind, key)
    assert found is not None, "a refund's account and debit always exist"
    return found


def _stored(tx: Transaction, kind: str, key: str, model: type[T]) -> T:
    return from_record(model, _stored_record(tx, kind, key))


def _detail(tx: Transaction, refund: Refund) -> RefundDetail:
    tx.read_ahead((ACCOUNT, refund.account_id), (DEBIT, refund.debit_id))
    return RefundDetail(
        refund,
        _stored(tx, ACCOUNT, refund.account_id, Account),
        _stored(tx, DEBIT, refund.debit_id, Debit),
    )
