"""Marqeta HTTP handlers: read Connexion's validated input, call the service, shape the response.

Connexion maps each contract ``operationId`` to the method of the same name in snake_case.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from mock_server.clock import format_timestamp
from mock_server.marqeta.models import (
    Account,
    BalanceRefund,
    JournalEntry,
    PaymentSource,
    Refund,
    Transition,
)
from mock_server.marqeta.service import ListQuery, MarqetaService, NewBalanceRefund, NewRefund
from mock_server.money import decimal_from_json, json_number
from mock_server.paging import Page

Json = dict[str, Any]


class MarqetaHandlers:
    def __init__(self, service: MarqetaService) -> None:
        self.service = service

    # Credit accounts, payment sources, journal entries -----------------------------------

    def list_accounts(self, count: int, start_index: int, sort_by: str) -> tuple[Json, int]:
        page = self.service.accounts(ListQuery(count, start_index, sort_by))
        return page_json(page, account_json), 200

    def retrieve_account(self, account_token: str) -> tuple[Json, int]:
        return account_json(self.service.account(account_token)), 200

    def list_payment_sources(
        self, account_token: str, count: int, start_index: int, sort_by: str
    ) -> tuple[Json, int]:
        page = self.service.payment_sources(account_token, ListQuery(count, start_index, sort_by))
        return page_json(page, payment_source_json), 200

    def retrieve_payment_source(
        self, account_token: str, payment_source_token: str
    ) -> tuple[Json, int]:
        source = self.service.payment_source(account_token, payment_source_token)
        return payment_source_json(source), 200

    def list_journal_entries(
        self, account_token: str, count: int, start_index: int, sort_by: str
    ) -> tuple[Json, int]:
        page = self.service.journal_entries(account_token, ListQuery(count, start_index, sort_by))
        return page_json(page, journal_entry_json), 200

    # Refunds -----------------------------------------------------------------------------

    def create_balance_refund(self, account_token: str, body: Json) -> tuple[Json, int]:
        new = NewBalanceRefund(
            token=body.get("token") or None,
            method=body["method"],
            amount=decimal_from_json(body["amount"]),
            description=body["description"],
            currency_code=body["currency_code"],
        )
        return balance_refund_json(self.service.create_balance_refund(account_token, new)), 201

    def create_refund(self, account_token: str, body: Json) -> tuple[Json, int]:
        new = NewRefund(
            token=body.get("token") or None,
            method=body["method"],
            type=body["type"],
            payment_source_token=body.get("payment_source_token"),
            amount=decimal_from_json(body["amount"]) if "amount" in body else None,
            currency_code=body.get("currency_code"),
            description=body.get("description"),
        )
        return refund_json(self.service.create_refund(account_token, new)), 201

    def list_refunds(
        self,
        account_token: str,
        count: int,
        start_index: int,
        sort_by: str,
        statuses: list[str] | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
    ) -> tuple[Json, int]:
        query = ListQuery(
            count,
            start_index,
            sort_by,
            statuses=frozenset(statuses or ()),
            start_date=date.fromisoformat(start_date) if start_date else None,
            end_date=date.fromisoformat(end_date) if end_date else None,
        )
        return page_json(self.service.refunds(account_token, query), refund_json), 200

    def retrieve_refund(self, account_token: str, refund_token: str) -> tuple[Json, int]:
        return refund_json(self.service.refund(account_token, refund_token)), 200

    def transition_refund(
        self, account_token: str, refund_token: str, body: Json
    ) -> tuple[Json, int]:
        refund = self.service.transition_refund(
            account_token, refund_token, body["status"], token=body.get("token") or None
        )
        return refund_json(refund), 201

    def retrieve_refund_transitions(
        self, account_token: str, refund_token: str, count: int, start_index: int, sort_by: str
    ) -> tuple[Json, int]:
        query = ListQuery(count, start_index, sort_by)
        page = self.service.transitions(account_token, refund_token, query)
        return page_json(page, transition_json), 200


# Response shapes (the contract's schemas) --------------------------------------------------


def page_json(page: Page[Any], item_json: Any) -> Json:
    return {
        "count": len(page.items),
        "start_index": page.offset,
        "end_index": page.end_index,
        "is_more": page.is_more,
        "data": [item_json(item) for item in page.items],
    }


def account_json(account: Account) -> Json:
    return {
        "token": account.token,
        "status": account.status,
        "currency_code": account.currency_code,
        "credit_limit": json_number(account.credit_limit),
        "current_balance": json_number(account.current_balance),
        "available_credit": json_number(account.available_credit),
        "created_time": format_timestamp(account.created_at),
        "updated_time": format_timestamp(account.updated_at),
    }


def payment_source_json(source: PaymentSource) -> Json:
    body = {
        "token": source.token,
        "account_token": source.account_token,
        "type": source.type,
        "account_suffix": source.account_suffix,
        "status": source.status,
        "created_time": format_timestamp(source.created_at),
        "updated_time": format_timestamp(source.updated_at),
    }
    if source.name is not None:
        body["name"] = source.name
    return body


def balance_refund_json(refund: BalanceRefund) -> Json:
    return {
        "token": refund.token,
        "account_token": refund.account_token,
        "status": refund.status,
        "method": refund.method,
        "amount": json_number(refund.amount),
        "description": refund.description,
        "created_time": format_timestamp(refund.created_at),
        "updated_time": format_timestamp(refund.updated_at),
    }


def refund_json(refund: Refund) -> Json:
    body: Json = {
        "token": refund.token,
        "account_token": refund.account_token,
        "status": refund.status,
        "method": refund.method,
        "type": refund.type,
        "amount": json_number(refund.amount),
        "currency_code": refund.currency_code,
        "created_time": format_timestamp(refund.created_at),
        "updated_time": format_timestamp(refund.updated_at),
    }
    # "Conditionally returned" fields are left out, not sent as null.
    if refund.payment_source_token is not None:
        body["payment_source_token"] = refund.payment_source_token
    if refund.description is not None:
        body["description"] = refund.description
    return body


def transition_json(transition: Transition) -> Json:
    return {
        "token": transition.token,
        "account_token": transition.account_token,
        "refund_token": transition.refund_token,
        "status": transition.status,
        "created_time": format_timestamp(transition.created_at),
    }


def journal_entry_json(entry: JournalEntry) -> Json:
    return {
        "token": entry.token,
        "account_token": entry.account_token,
        "amount": json_number(entry.amount),
        "currency_code": entry.currency_code,
        "group": entry.group,
        "type": entry.type,
        "status": entry.status,
        "detail_token": entry.detail_token,
        "impact_time": format_timestamp(entry.impact_at),
        "created_time": format_timestamp(entry.created_at),
    }
