"""Marqeta HTTP handlers: read Connexion's validated input, call the service, shape the response.

Connexion maps each contract ``operationId`` to the method of the same name in snake_case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from mock_server.clock import format_timestamp, format_timestamp_millis
from mock_server.json_types import Json
from mock_server.kept_answers import KeptAnswers
from mock_server.marqeta.models import (
    Account,
    BalanceRefund,
    JournalEntry,
    PaymentSource,
    Refund,
    Transition,
)
from mock_server.marqeta.service import ListQuery, MarqetaService, NewBalanceRefund, NewRefund
from mock_server.money import decimal_from_json
from mock_server.paging import Page
from mock_server.records import from_record
from mock_server.sessions import Session
from mock_server.spec import Contract
from mock_server.vendor import Handler
from mock_server.wire import WireShape, wire_shape

T = TypeVar("T")


class MarqetaHandlers:
    def __init__(self, service: MarqetaService, shapes: MarqetaShapes) -> None:
        self.service = service
        self.shapes = shapes

    def operations(self) -> dict[str, Handler]:
        """The handler of each contract operationId (checked against the contract at start-up)."""
        return {
            "listAccounts": self.list_accounts,
            "retrieveAccount": self.retrieve_account,
            "listJournalEntries": self.list_journal_entries,
            "listPaymentSources": self.list_payment_sources,
            "retrievePaymentSource": self.retrieve_payment_source,
            "createBalanceRefund": self.create_balance_refund,
            "createRefund": self.create_refund,
            "listRefunds": self.list_refunds,
            "retrieveRefund": self.retrieve_refund,
            "transitionRefund": self.transition_refund,
            "retrieveRefundTransitions": self.retrieve_refund_transitions,
            "simulateTransitionRefund": self.simulate_transition_refund,
        }

    # Credit accounts, payment sources, journal entries -----------------------------------

    def list_accounts(
        self, session: Session, count: int, start_index: int, sort_by: str
    ) -> tuple[Json, int]:
        page = self.service.accounts(session.store, ListQuery(count, start_index, sort_by))
        return page_json(page, self.shapes.account.write), 200

    def retrieve_account(
        self,
        session: Session,
        account_token: str,
        light_response: bool = False,
        effective_fee_schedule_only: bool = False,  # no fee schedules are kept: nothing to do
    ) -> tuple[Json, int]:
        account = self.shapes.account.write(self.service.account(session.store, account_token))
        if light_response:  # "without any balances and usages"
            for balance in BALANCES:
                account.pop(balance, None)
        return account, 200

    def list_payment_sources(
        self, session: Session, account_token: str, count: int, start_index: int, sort_by: str
    ) -> tuple[Json, int]:
        page = self.service.payment_sources(
            session.store, account_token, ListQuery(count, start_index, sort_by)
        )
        return page_json(page, self.shapes.payment_source.write), 200

    def retrieve_payment_source(
        self, session: Session, account_token: str, payment_source_token: str
    ) -> tuple[Json, int]:
        source = self.service.payment_source(session.store, account_token, payment_source_token)
        return self.shapes.payment_source.write(source), 200

    def list_journal_entries(
        self, session: Session, account_token: str, count: int, start_index: int, sort_by: str
    ) -> tuple[Json, int]:
        page = self.service.journal_entries(
            session.store, account_token, ListQuery(count, start_index, sort_by)
        )
        return page_json(page, self.shapes.journal_entry.write), 200

    # Refunds -----------------------------------------------------------------------------

    def create_balance_refund(
        self, session: Session, account_token: str, body: Json
    ) -> tuple[Json, int]:
        new = NewBalanceRefund(
            token=body.get("token") or None,
            method=body["method"],
            amount=decimal_from_json(body["amount"]),
            description=body["description"],
            currency_code=body["currency_code"],
        )
        refund = self.service.create_balance_refund(session.store, account_token, new)
        return self.shapes.balance_refund.write(refund), 201

    def create_refund(self, session: Session, account_token: str, body: Json) -> tuple[Json, int]:
        new = NewRefund(
            token=body.get("token") or None,
            method=body["method"],
            type=body["type"],
            payment_source_token=body.get("payment_source_token"),
            amount=decimal_from_json(body["amount"]) if "amount" in body else None,
            currency_code=body.get("currency_code"),
            description=body.get("description"),
        )
        return self.shapes.refund.write(
            self.service.create_refund(session.store, account_token, new)
        ), 201

    def list_refunds(
        self,
        session: Session,
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
        page = self.service.refund_records(session.store, account_token, query)
        return page_json(page, self.shapes.kept_refunds.answer), 200

    def retrieve_refund(
        self, session: Session, account_token: str, refund_token: str
    ) -> tuple[Json, int]:
        return self.shapes.refund.write(
            self.service.refund(session.store, account_token, refund_token)
        ), 200

    def transition_refund(
        self, session: Session, account_token: str, refund_token: str, body: Json
    ) -> tuple[Json, int]:
        refund = self.service.transition_refund(
            session.store,
            account_token,
            refund_token,
            body["status"],
            token=body.get("token") or None,
        )
        return self.shapes.refund.write(refund), 201

    def simulate_transition_refund(
        self, session: Session, account_token: str, refund_token: str, body: Json
    ) -> tuple[Json, int]:
        refund = self.service.simulate_transition(
            session.store, account_token, refund_token, body["status"]
        )
        return self.shapes.refund.write(refund), 201

    def retrieve_refund_transitions(
        self,
        session: Session,
        account_token: str,
        refund_token: str,
        count: int,
        start_index: int,
        sort_by: str,
    ) -> tuple[Json, int]:
        query = ListQuery(count, start_index, sort_by)
        page = self.service.transitions(session.store, account_token, refund_token, query)
        return page_json(page, self.shapes.transition.write), 200


# Response shapes: the contract's schemas (mock_server.wire) ------------------------------------

# The models keep times as ``*_at``; Marqeta's responses name them ``*_time``.
TIMES = {"created_time": "created_at", "updated_time": "updated_at", "impact_time": "impact_at"}
BALANCES = ("current_balance", "available_credit")  # left out of a light_response
# The vendor's default account configuration: the mock keeps no configuration of its own.
DEFAULT_CONFIG: Json = {
    "billing_cycle_day": 1,
    "card_level": "NA",
    "e_disclosure_active": False,
    "fees": [],
    "payment_holds": {"ach_hold_days": 0, "check_hold_days": 0},
}


class MarqetaShapes:
    """Each model as its response schema writes it."""

    def __init__(self, contract: Contract) -> None:
        def shape(schema_name: str, model: type) -> WireShape:
            return wire_shape(contract, schema_name, model, format_timestamp, renamed=TIMES)

        # Accounts with milliseconds, as the vendor's account example writes them.
        self.account = wire_shape(
            contract,
            "CreditAccount",
            Account,
            format_timestamp_millis,
            renamed=TIMES,
            computed={"config": lambda _account: _default_config()},
        )
        self.payment_source = shape("PaymentSource", PaymentSource)
        self.balance_refund = shape("AccountCreditBalanceRefundResponse", BalanceRefund)
        self.refund = shape("AccountRefundResponse", Refund)
        self.transition = shape("AccountRefundTransition", Transition)
        self.journal_entry = shape("JournalEntry", JournalEntry)
        # A list page splices in each refund's answer as written when the refund last changed.
        self.kept_refunds = KeptAnswers(
            lambda record: self.refund.write(from_record(Refund, record)), key="token"
        )


def _default_config() -> Json:
    """A response's own copy of the default configuration."""
    holds = DEFAULT_CONFIG["payment_holds"]
    return {**DEFAULT_CONFIG, "fees": [], "payment_holds": dict(holds)}


def page_json(page: Page[T], item_json: Callable[[T], Any]) -> Json:
    return {
        "count": len(page.items),
        "start_index": page.offset,
        "end_index": page.end_index,
        "is_more": page.is_more,
        "data": [item_json(item) for item in page.items],
    }
