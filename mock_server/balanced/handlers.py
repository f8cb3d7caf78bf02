"""Balanced HTTP handlers: read Connexion's validated input, call the service, shape the response.

Connexion maps each contract ``operationId`` to the method of the same name in snake_case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from mock_server.balanced import uris
from mock_server.balanced.models import Account, Debit, Marketplace
from mock_server.balanced.service import (
    BalancedService,
    NewDebit,
    NewRefund,
    RefundChanges,
    RefundDetail,
)
from mock_server.paging import Page

Json = dict[str, Any]
T = TypeVar("T")


class BalancedHandlers:
    def __init__(self, service: BalancedService) -> None:
        self.service = service

    # Marketplaces and accounts ----------------------------------------------------------------

    def list_marketplaces(self, limit: int, offset: int) -> tuple[Json, int]:
        page = self.service.marketplaces(offset, limit)
        return page_json(page, f"{uris.BASE}/marketplaces", limit, marketplace_json), 200

    def retrieve_marketplace(self, marketplace_id: str) -> tuple[Json, int]:
        return marketplace_json(self.service.marketplace(marketplace_id)), 200

    def list_accounts(self, marketplace_id: str, limit: int, offset: int) -> tuple[Json, int]:
        page = self.service.accounts(marketplace_id, offset, limit)
        path = f"{uris.marketplace(marketplace_id)}/accounts"
        return page_json(page, path, limit, account_json), 200

    def retrieve_account(self, marketplace_id: str, account_id: str) -> tuple[Json, int]:
        return account_json(self.service.account(marketplace_id, account_id)), 200

    # Debits -----------------------------------------------------------------------------------

    def create_debit(self, marketplace_id: str, account_id: str, body: Json) -> tuple[Json, int]:
        new = NewDebit(
            amount=body["amount"],
            description=body.get("description"),
            appears_on_statement_as=body.get("appears_on_statement_as"),
            meta=body.get("meta", {}),
        )
        return debit_json(self.service.debit_account(marketplace_id, account_id, new)), 201

    def list_account_debits(
        self, marketplace_id: str, account_id: str, limit: int, offset: int
    ) -> tuple[Json, int]:
        page = self.service.debits(marketplace_id, offset, limit, account_id=account_id)
        path = f"{uris.account(marketplace_id, account_id)}/debits"
        return page_json(page, path, limit, debit_json), 200

    def list_debits(self, marketplace_id: str, limit: int, offset: int) -> tuple[Json, int]:
        page = self.service.debits(marketplace_id, offset, limit)
        path = f"{uris.marketplace(marketplace_id)}/debits"
        return page_json(page, path, limit, debit_json), 200

    def retrieve_debit(self, marketplace_id: str, debit_id: str) -> tuple[Json, int]:
        return debit_json(self.service.debit(marketplace_id, debit_id)), 200

    # Refunds ----------------------------------------------------------------------------------

    def refund_account(self, marketplace_id: str, account_id: str, body: Json) -> tuple[Json, int]:
        new = _new_refund(body)
        if "debit_uri" in body:
            detail = self.service.refund_debit(
                marketplace_id, body["debit_uri"], new, account_id=account_id
            )
        else:
            detail = self.service.refund_account(marketplace_id, account_id, new)
        return refund_json(detail), 201

    def create_refund(self, marketplace_id: str, body: Json) -> tuple[Json, int]:
        detail = self.service.refund_debit(marketplace_id, body["debit_uri"], _new_refund(body))
        return refund_json(detail), 201

    def list_refunds(self, marketplace_id: str, limit: int, offset: int) -> tuple[Json, int]:
        page = self.service.refunds(marketplace_id, offset, limit)
        path = f"{uris.marketplace(marketplace_id)}/refunds"
        return refund_page_json(page, path, limit), 200

    def list_account_refunds(
        self, marketplace_id: str, account_id: str, limit: int, offset: int
    ) -> tuple[Json, int]:
        page = self.service.refunds(marketplace_id, offset, limit, account_id=account_id)
        path = f"{uris.account(marketplace_id, account_id)}/refunds"
        return refund_page_json(page, path, limit), 200

    def list_debit_refunds(
        self, marketplace_id: str, debit_id: str, limit: int, offset: int
    ) -> tuple[Json, int]:
        page = self.service.refunds(marketplace_id, offset, limit, debit_id=debit_id)
        path = f"{uris.debit(marketplace_id, debit_id)}/refunds"
        return refund_page_json(page, path, limit), 200

    def retrieve_refund(self, marketplace_id: str, refund_id: str) -> tuple[Json, int]:
        return refund_json(self.service.refund(marketplace_id, refund_id)), 200

    def retrieve_account_refund(
        self, marketplace_id: str, account_id: str, refund_id: str
    ) -> tuple[Json, int]:
        detail = self.service.refund(marketplace_id, refund_id, account_id=account_id)
        return refund_json(detail), 200

    def update_refund(self, marketplace_id: str, refund_id: str, body: Json) -> tuple[Json, int]:
        detail = self.service.update_refund(marketplace_id, refund_id, _changes(body))
        return refund_json(detail), 200

    def update_account_refund(
        self, marketplace_id: str, account_id: str, refund_id: str, body: Json
    ) -> tuple[Json, int]:
        detail = self.service.update_refund(
            marketplace_id, refund_id, _changes(body), account_id=account_id
        )
        return refund_json(detail), 200


def _new_refund(body: Json) -> NewRefund:
    return NewRefund(
        amount=body.get("amount"), description=body.get("description"), meta=body.get("meta", {})
    )


def _changes(body: Json) -> RefundChanges:
    return RefundChanges(description=body.get("description"), meta=body.get("meta"))


# Response shapes (the contract's schemas, as the seed shows them) ----------------------------


def timestamp(moment: datetime) -> str:
    """ISO 8601, UTC, microseconds, as Balanced wrote them: ``2012-11-07T00:43:58.261604Z``."""
    # isoformat, not strftime: a list page writes four hundred of these, and strftime is slower.
    return moment.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def page_json(page: Page[T], path: str, limit: int, item_json: Callable[[T], Json]) -> Json:
    return {
        "items": [item_json(item) for item in page.items],
        "total": page.total,
        "limit": limit,
        "offset": page.offset,
        **uris.page_links(path, page.offset, limit, page.total),
    }


def marketplace_json(marketplace: Marketplace) -> Json:
    uri = uris.marketplace(marketplace.id)
    return {
        "id": marketplace.id,
        "uri": uri,
        "name": marketplace.name,
        "domain_url": marketplace.domain_url,
        "support_email_address": marketplace.support_email_address,
        "created_at": timestamp(marketplace.created_at),
        "meta": marketplace.meta,
        "accounts_uri": f"{uri}/accounts",
        "debits_uri": f"{uri}/debits",
        "refunds_uri": f"{uri}/refunds",
    }


def account_json(account: Account) -> Json:
    uri = uris.account(account.marketplace_id, account.id)
    return {
        "id": account.id,
        "uri": uri,
        "name": account.name,
        "roles": account.roles,
        "created_at": timestamp(account.created_at),
        "email_address": account.email_address,
        "meta": account.meta,
        **{f"{link}_uri": f"{uri}/{link}" for link in LINKS_OF_ACCOUNT},
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


def debit_json(debit: Debit) -> Json:
    uri = uris.debit(debit.marketplace_id, debit.id)
    return {
        "id": debit.id,
        "uri": uri,
        "amount": debit.amount,
        "fee": debit.fee,
        "description": debit.description,
        "transaction_number": debit.transaction_number,
        "created_at": timestamp(debit.created_at),
        "available_at": timestamp(debit.available_at),
        "appears_on_statement_as": debit.appears_on_statement_as,
        "meta": debit.meta,
        "hold_uri": uris.hold(debit.marketplace_id, debit.hold_id),
        "source_uri": uris.card(debit.marketplace_id, debit.account_id, debit.card_id),
        "refunds_uri": f"{uri}/refunds",
    }


def refund_json(detail: RefundDetail, embedded: dict[tuple[str, str], Json] | None = None) -> Json:
    """``embedded`` lets the refunds of one page share the JSON of the accounts and debits they
    embed: a page often names one account and one debit a hundred times."""
    refund = detail.refund
    embedded = {} if embedded is None else embedded
    account = embedded.get(("account", refund.account_id))
    if account is None:
        account = embedded[("account", refund.account_id)] = account_json(detail.account)
    debit = embedded.get(("debit", refund.debit_id))
    if debit is None:
        debit = embedded[("debit", refund.debit_id)] = debit_json(detail.debit)
    return {
        "id": refund.id,
        "uri": uris.refund(refund.marketplace_id, refund.id),
        "amount": refund.amount,
        "fee": refund.fee,
        "description": refund.description,
        "created_at": timestamp(refund.created_at),
        "transaction_number": refund.transaction_number,
        "appears_on_statement_as": refund.appears_on_statement_as,
        "meta": refund.meta,
        "account": account,
        "debit": debit,
    }


def refund_page_json(page: Page[RefundDetail], path: str, limit: int) -> Json:
    return page_json(page, path, limit, functools.partial(refund_json, embedded={}))
