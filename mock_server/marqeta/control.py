"""What the mock's control side asks of Marqeta: fixtures, its own control operations
(``createAccount``, ``advanceRefund``), the dashboard's overview and the start-up banner."""

from __future__ import annotations

from mock_server.clock import format_timestamp_millis
from mock_server.json_types import Json
from mock_server.marqeta.handlers import MarqetaShapes
from mock_server.marqeta.service import ListQuery, MarqetaService, NewAccount, NewPaymentSource
from mock_server.marqeta.vendor import MARQETA
from mock_server.money import decimal_from_json, json_number
from mock_server.sessions import Session
from mock_server.spec import defaults
from mock_server.store import Store, Transaction
from mock_server.vendor import Handler

NEWEST_FIRST = "-lastModifiedTime"


def new_account(seed: Json) -> NewAccount:
    """A NewAccount from a ``MarqetaAccountSeed`` (control API body or fixtures entry)."""
    account_defaults = defaults(MARQETA.control_part, "MarqetaAccountSeed")
    source_defaults = defaults(MARQETA.control_part, "MarqetaPaymentSourceSeed")
    return NewAccount(
        token=seed.get("token") or None,
        current_balance=decimal_from_json(seed["current_balance"]),
        credit_limit=decimal_from_json(seed.get("credit_limit", account_defaults["credit_limit"])),
        currency_code=seed.get("currency_code"),
        type=seed.get("type", account_defaults["type"]),
        payment_sources=tuple(
            NewPaymentSource(
                token=source.get("token") or None,
                type=source.get("type", source_defaults["type"]),
                account_suffix=source["account_suffix"],
                name=source.get("name"),
            )
            for source in seed.get("payment_sources", [])
        ),
    )


def seed(service: MarqetaService, tx: Transaction, section: Json) -> Json:
    """The ``marqeta`` section of a fixtures file, created inside ``tx``."""
    accounts = []
    for account_seed in section.get("accounts", []):
        account, sources = service.open_account_in(tx, new_account(account_seed))
        accounts.append({"token": account.token, "payment_sources": [s.token for s in sources]})
    return {"accounts": accounts}


class MarqetaControl:
    """Control API operations on Marqeta resources."""

    def __init__(self, service: MarqetaService, shapes: MarqetaShapes) -> None:
        self.service = service
        self.shapes = shapes

    def operations(self) -> dict[str, Handler]:
        """The handler of each control API operation of Marqeta's (checked at start-up)."""
        return {
            "createAccount": self.create_account,
            "advanceRefund": self.advance_refund,
        }

    def create_account(self, session: Session, body: Json) -> tuple[Json, int]:
        account, sources = self.service.open_account(session.store, new_account(body))
        created = {
            "token": account.token,
            "current_balance": json_number(account.current_balance),
            "credit_limit": json_number(account.credit_limit),
            "currency_code": account.currency_code,
            "payment_sources": [
                {"token": s.token, "type": s.type, "account_suffix": s.account_suffix}
                | ({"name": s.name} if s.name is not None else {})
                for s in sources
            ],
        }
        return created, 201

    def advance_refund(
        self, session: Session, refund_token: str, body: Json | bytes | None = None
    ) -> tuple[Json, int]:
        # Sent without a body (and so without a content type), Connexion passes the contract's
        # default body unparsed: it means one step forward.
        status = body.get("status") if isinstance(body, dict) else None
        return self.shapes.refund.write(
            self.service.advance_refund(session.store, refund_token, status)
        ), 200


def overview(service: MarqetaService, store: Store, limit: int) -> Json:
    """The ``limit`` accounts changed last (the one in use on top), each with its ``limit``
    newest refunds and journal entries."""
    accounts = service.accounts(store, ListQuery(limit, 0, NEWEST_FIRST))
    shown = []
    for account in accounts.items:
        refunds = service.refunds(store, account.token, ListQuery(limit, 0, NEWEST_FIRST))
        entries = service.journal_entries(store, account.token, ListQuery(limit, 0, NEWEST_FIRST))
        shown.append(
            {
                "token": account.token,
                "current_balance": json_number(account.current_balance),
                "credit_limit": json_number(account.credit_limit),
                "currency_code": account.currency_code,
                "refunds_total": refunds.total,
                "refunds": [
                    {
                        "token": refund.token,
                        "status": refund.status,
                        "amount": json_number(refund.amount),
                        "updated_at": format_timestamp_millis(refund.updated_at),
                        "advanceable": service.advanceable(refund),
                    }
                    for refund in refunds.items
                ],
                "journal_entries_total": entries.total,
                "journal_entries": [
                    {
                        "type": entry.type,
                        "amount": json_number(entry.amount),
                        "detail_token": entry.detail_token,
                        "created_at": format_timestamp_millis(entry.created_at),
                    }
                    for entry in entries.items
                ],
            }
        )
    return {"accounts_total": accounts.total, "accounts": shown}


def banner(service: MarqetaService, store: Store) -> list[str]:
    accounts = service.accounts(store, ListQuery(100, 0, "lastModifiedTime")).items
    return [
        f"account {account.token}  current_balance {json_number(account.current_balance)}"
        for account in accounts
    ]
