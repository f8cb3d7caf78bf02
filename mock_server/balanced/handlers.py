"""Balanced HTTP handlers: read Connexion's validated input, call the service, shape the response.

Connexion maps each contract ``operationId`` to the method of the same name in snake_case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from mock_server.balanced import uris
from mock_server.balanced.models import Account, Debit, Marketplace, Refund
from mock_server.balanced.service import (
    BalancedService,
    NewDebit,
    NewRefund,
    RefundChanges,
    RefundDetail,
    StoredRefunds,
)
from mock_server.json_types import Json
from mock_server.kept_answers import KeptAnswers
from mock_server.paging import Page
from mock_server.records import from_record
from mock_server.sessions import Session
from mock_server.spec import Contract
from mock_server.store import Record
from mock_server.vendor import Handler
from mock_server.wire import wire_shape

T = TypeVar("T")


class BalancedHandlers:
    def __init__(self, service: BalancedService, shapes: BalancedShapes) -> None:
        self.service = service
        self.shapes = shapes

    def operations(self) -> dict[str, Handler]:
        """The handler of each contract operationId (checked against the contract at start-up)."""
        return {
            "listMarketplaces": self.list_marketplaces,
            "retrieveMarketplace": self.retrieve_marketplace,
            "listAccounts": self.list_accounts,
            "retrieveAccount": self.retrieve_account,
            "createDebit": self.create_debit,
            "listAccountDebits": self.list_account_debits,
            "listDebits": self.list_debits,
            "retrieveDebit": self.retrieve_debit,
            "listDebitRefunds": self.list_debit_refunds,
            "refundDebit": self.refund_debit,
            "refundAccount": self.refund_account,
            "listAccountRefunds": self.list_account_refunds,
            "retrieveAccountRefund": self.retrieve_account_refund,
            "updateAccountRefund": self.update_account_refund,
            "createRefund": self.create_refund,
            "listRefunds": self.list_refunds,
            "retrieveRefund": self.retrieve_refund,
            "updateRefund": self.update_refund,
        }

    # Marketplaces and accounts ----------------------------------------------------------------

    def list_marketplaces(self, session: Session, limit: int, offset: int) -> tuple[Json, int]:
        page = self.service.marketplaces(session.store, offset, limit)
        path = f"{uris.BASE}/marketplaces"
        return page_json(page, path, limit, self.shapes.marketplace.write), 200

    def retrieve_marketplace(self, session: Session, marketplace_id: str) -> tuple[Json, int]:
        return self.shapes.marketplace.write(
            self.service.marketplace(session.store, marketplace_id)
        ), 200

    def list_accounts(
        self, session: Session, marketplace_id: str, limit: int, offset: int
    ) -> tuple[Json, int]:
        page = self.service.accounts(session.store, marketplace_id, offset, limit)
        path = f"{uris.marketplace(marketplace_id)}/accounts"
        return page_json(page, path, limit, self.shapes.account.write), 200

    def retrieve_account(
        self, session: Session, marketplace_id: str, account_id: str
    ) -> tuple[Json, int]:
        return self.shapes.account.write(
            self.service.account(session.store, marketplace_id, account_id)
        ), 200

    # Debits -----------------------------------------------------------------------------------

    def create_debit(
        self, session: Session, marketplace_id: str, account_id: str, body: Json
    ) -> tuple[Json, int]:
        new = NewDebit(
            amount=body["amount"],
            description=body.get("description"),
            appears_on_statement_as=body.get("appears_on_statement_as"),
            meta=body.get("meta", {}),
        )
        return self.shapes.debit.write(
            self.service.debit_account(session.store, marketplace_id, account_id, new)
        ), 201

    def list_account_debits(
        self, session: Session, marketplace_id: str, account_id: str, limit: int, offset: int
    ) -> tuple[Json, int]:
        page = self.service.debits(
            session.store, marketplace_id, offset, limit, account_id=account_id
        )
        path = f"{uris.account(marketplace_id, account_id)}/debits"
        return page_json(page, path, limit, self.shapes.debit.write), 200

    def list_debits(
        self, session: Session, marketplace_id: str, limit: int, offset: int
    ) -> tuple[Json, int]:
        page = self.service.debits(session.store, marketplace_id, offset, limit)
        path = f"{uris.marketplace(marketplace_id)}/debits"
        return page_json(page, path, limit, self.shapes.debit.write), 200

    def retrieve_debit(
        self, session: Session, marketplace_id: str, debit_id: str
    ) -> tuple[Json, int]:
        return self.shapes.debit.write(
            self.service.debit(session.store, marketplace_id, debit_id)
        ), 200

    # Refunds ----------------------------------------------------------------------------------

    def refund_account(
        self, session: Session, marketplace_id: str, account_id: str, body: Json
    ) -> tuple[Json, int]:
        new = _new_refund(body)
        if "debit_uri" in body:
            detail = self.service.refund_debit(
                session.store, marketplace_id, body["debit_uri"], new, account_id=account_id
            )
        else:
            detail = self.service.refund_account(session.store, marketplace_id, account_id, new)
        return self.shapes.refund_detail(detail), 201

    def refund_debit(
        self, session: Session, marketplace_id: str, debit_id: str, body: Json | bytes = b""
    ) -> tuple[Json, int]:
        # No body (the Node client's Debits.refund) is the contract's default {} when it is
        # labelled JSON, and Connexion's empty bytes when it is not labelled at all.
        body = body if isinstance(body, dict) else {}
        detail = self.service.refund_this_debit(
            session.store, marketplace_id, debit_id, _new_refund(body), body.get("debit_uri")
        )
        return self.shapes.refund_detail(detail), 201

    def create_refund(self, session: Session, marketplace_id: str, body: Json) -> tuple[Json, int]:
        detail = self.service.refund_debit(
            session.store, marketplace_id, body["debit_uri"], _new_refund(body)
        )
        return self.shapes.refund_detail(detail), 201

    def list_refunds(
        self, session: Session, marketplace_id: str, limit: int, offset: int
    ) -> tuple[Json, int]:
        page = self.service.refund_records(session.store, marketplace_id, offset, limit)
        path = f"{uris.marketplace(marketplace_id)}/refunds"
        return self.shapes.refund_page(page, path, limit), 200

    def list_account_refunds(
        self, session: Session, marketplace_id: str, account_id: str, limit: int, offset: int
    ) -> tuple[Json, int]:
        page = self.service.refund_records(
            session.store, marketplace_id, offset, limit, account_id=account_id
        )
        path = f"{uris.account(marketplace_id, account_id)}/refunds"
        return self.shapes.refund_page(page, path, limit), 200

    def list_debit_refunds(
        self, session: Session, marketplace_id: str, debit_id: str, limit: int, offset: int
    ) -> tuple[Json, int]:
        page = self.service.refund_records(
            session.store, marketplace_id, offset, limit, debit_id=debit_id
        )
        path = f"{uris.debit(marketplace_id, debit_id)}/refunds"
        return self.shapes.refund_page(page, path, limit), 200

    def retrieve_refund(
        self, session: Session, marketplace_id: str, refund_id: str
    ) -> tuple[Json, int]:
        return self.shapes.refund_detail(
            self.service.refund(session.store, marketplace_id, refund_id)
        ), 200

    def retrieve_account_refund(
        self, session: Session, marketplace_id: str, account_id: str, refund_id: str
    ) -> tuple[Json, int]:
        detail = self.service.refund(
            session.store, marketplace_id, refund_id, account_id=account_id
        )
        return self.shapes.refund_detail(detail), 200

    def update_refund(
        self, session: Session, marketplace_id: str, refund_id: str, body: Json
    ) -> tuple[Json, int]:
        detail = self.service.update_refund(
            session.store, marketplace_id, refund_id, _changes(body)
        )
        return self.shapes.refund_detail(detail), 200

    def update_account_refund(
        self, session: Session, marketplace_id: str, account_id: str, refund_id: str, body: Json
    ) -> tuple[Json, int]:
        detail = self.service.update_refund(
            session.store, marketplace_id, refund_id, _changes(body), account_id=account_id
        )
        return self.shapes.refund_detail(detail), 200


def _new_refund(body: Json) -> NewRefund:
    return NewRefund(
        amount=body.get("amount"), description=body.get("description"), meta=body.get("meta") or {}
    )


def _changes(body: Json) -> RefundChanges:
    return RefundChanges(description=body.get("description"), meta=body.get("meta"))


# Response shapes: the contract's schemas (mock_server.wire), as the seed shows them -----------


def timestamp(moment: datetime) -> str:
    """ISO 8601, UTC, microseconds, as Balanced wrote them: ``2012-11-07T00:43:58.261604Z``."""
    # isoformat, not strftime: a list page writes four hundred of these, and strftime is slower.
    return moment.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def page_json(page: Page[T], path: str, limit: int, item_json: Callable[[T], Any]) -> Json:
    return {
        "_type": "page",
        "_uris": {},
        "items": [item_json(item) for item in page.items],
        "total": page.total,
        "limit": limit,
        "offset": page.offset,
        **uris.page_links(path, page.offset, limit, page.total),
    }


LINKS_OF_ACCOUNT = (
    "holds",
    "bank_accounts",
    "refunds",
    "debits",
    "transactions",
    "credits",
    "cards",
)


def _account_links() -> dict[str, Callable[[Any], Any]]:
    def link(name: str) -> Callable[[Account], str]:
        return lambda account: f"{uris.account(account.marketplace_id, account.id)}/{name}"

    return {f"{name}_uri": link(name) for name in LINKS_OF_ACCOUNT}


def _links(kinds: dict[str, str]) -> Json:
    """``_uris`` as the v1 examples write it: what each ``NAME_uri`` leads to."""
    return {f"{name}_uri": {"_type": kind, "key": name} for name, kind in kinds.items()}


def _copied(links: Json) -> Json:
    """A response's own copy of a links table (``copy.deepcopy`` took 12 times as long)."""
    return {name: dict(link) for name, link in links.items()}


ACCOUNT_LINKS = _links({name: "page" for name in LINKS_OF_ACCOUNT} | {"customer": "customer"})
DEBIT_LINKS = _links(
    {
        "hold": "hold",
        "source": "card",
        "refunds": "page",
        "account": "account",
        "customer": "customer",
    }
)


class BalancedShapes:
    """Each model as its response schema writes it; URIs are the mock's own (``uris``)."""

    def __init__(self, contract: Contract) -> None:
        def marketplace_link(name: str) -> Callable[[Marketplace], str]:
            return lambda marketplace: f"{uris.marketplace(marketplace.id)}/{name}"

        self.marketplace = wire_shape(
            contract,
            "Marketplace",
            Marketplace,
            timestamp,
            computed={
                "uri": lambda marketplace: uris.marketplace(marketplace.id),
                **{
                    f"{name}_uri": marketplace_link(name)
                    for name in ("accounts", "debits", "refunds")
                },
            },
        )
        self.account = wire_shape(
            contract,
            "Account",
            Account,
            timestamp,
            computed={
                "_type": lambda _account: "account",
                "_uris": lambda _account: _copied(ACCOUNT_LINKS),
                "uri": lambda account: uris.account(account.marketplace_id, account.id),
                "customer_uri": lambda account: uris.customer(account.id),
                **_account_links(),
            },
        )
        self.debit = wire_shape(
            contract,
            "Debit",
            Debit,
            timestamp,
            computed={
                "_type": lambda _debit: "debit",
                "_uris": lambda _debit: _copied(DEBIT_LINKS),
                "account_uri": lambda d: uris.account(d.marketplace_id, d.account_id),
                "customer_uri": lambda d: uris.customer(d.account_id),
                "on_behalf_of_uri": lambda _debit: None,
                "uri": lambda debit: uris.debit(debit.marketplace_id, debit.id),
                "hold_uri": lambda debit: uris.hold(debit.marketplace_id, debit.hold_id),
                "source_uri": lambda debit: uris.card(
                    debit.marketplace_id, debit.account_id, debit.card_id
                ),
                "refunds_uri": lambda debit: (
                    f"{uris.debit(debit.marketplace_id, debit.id)}/refunds"
                ),
            },
        )
        self.refund = wire_shape(
            contract,
            "Refund",
            Refund,
            timestamp,
            computed={
                "_type": lambda _refund: "refund",
                "_uris": lambda _refund: {},
                "uri": lambda refund: uris.refund(refund.marketplace_id, refund.id),
            },
            embedded=frozenset({"account", "debit", "account_name", "account_email_address"}),
        )
        # A list page splices in each refund's answer as written when it, or the account or
        # debit it embeds, last read differently.
        self.kept_accounts = KeptAnswers(
            lambda record: self.account.write(from_record(Account, record)), key="id"
        )
        self.kept_debits = KeptAnswers(
            lambda record: self.debit.write(from_record(Debit, record)), key="id"
        )
        self.kept_refunds = KeptAnswers(self._refund_embedding, key="id")

    def refund_detail(self, detail: RefundDetail) -> Json:
        """A refund with its account and debit."""
        return self.refund.write(
            detail.refund,
            account=self.account.write(detail.account),
            debit=self.debit.write(detail.debit),
            account_name=detail.account.name,
            account_email_address=detail.account.email_address,
        )

    def refund_page(self, stored: StoredRefunds, path: str, limit: int) -> Json:
        accounts = {key: self.kept_accounts.text(record) for key, record in stored.accounts.items()}
        debits = {key: self.kept_debits.text(record) for key, record in stored.debits.items()}

        def kept(refund: Record) -> orjson.Fragment:
            return self.kept_refunds.answer(
                refund, accounts[refund["account_id"]], debits[refund["debit_id"]]
            )

        return page_json(stored.page, path, limit, kept)

    def _refund_embedding(self, refund: Record, account: str, debit: str) -> Json:
        """A refund's answer around the kept answers of its account and debit."""
        account_json = orjson.loads(account)
        return self.refund.write(
            from_record(Refund, refund),
            account=orjson.Fragment(account),
            debit=orjson.Fragment(debit),
            account_name=account_json.get("name"),
            account_email_address=account_json.get("email_address"),
        )
