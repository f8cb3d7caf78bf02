"""What the dashboard shows, in a size that does not grow with the state.

The dashboard used to fetch the whole state every second: at 15,000 refunds that was 12 MB and
two seconds of the event loop per poll. The overview reads only pages: the ``limit`` accounts
changed last, each with its ``limit`` newest refunds and journal entries, and the first
``limit`` marketplaces with their ``limit`` newest debits; totals say how much more there is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mock_server.marqeta.service import ListQuery
from mock_server.money import json_number

if TYPE_CHECKING:
    from mock_server.app import MockState

Json = dict[str, Any]
NEWEST_FIRST = "-lastModifiedTime"


def overview(state: MockState, limit: int) -> Json:
    return {"marqeta": _marqeta(state, limit), "balanced": _balanced(state, limit)}


def _marqeta(state: MockState, limit: int) -> Json:
    service = state.marqeta
    accounts = service.accounts(ListQuery(limit, 0, NEWEST_FIRST))  # the one in use on top
    shown = []
    for account in accounts.items:
        refunds = service.refunds(account.token, ListQuery(limit, 0, NEWEST_FIRST))
        entries = service.journal_entries(account.token, ListQuery(limit, 0, NEWEST_FIRST))
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
                        "updated_at": _time(refund.updated_at),
                    }
                    for refund in refunds.items
                ],
                "journal_entries_total": entries.total,
                "journal_entries": [
                    {
                        "type": entry.type,
                        "amount": json_number(entry.amount),
                        "detail_token": entry.detail_token,
                        "created_at": _time(entry.created_at),
                    }
                    for entry in entries.items
                ],
            }
        )
    return {"accounts_total": accounts.total, "accounts": shown}


def _balanced(state: MockState, limit: int) -> Json:
    service = state.balanced
    marketplaces = service.marketplaces(offset=0, limit=limit)
    shown = []
    for marketplace in marketplaces.items:
        total = service.debits(marketplace.id, offset=0, limit=0).total
        newest = service.debits(marketplace.id, offset=max(0, total - limit), limit=limit)
        debits = []
        for debit in reversed(newest.items):
            refunds = service.refunds(marketplace.id, 0, limit, debit_id=debit.id)
            debits.append(
                {
                    "id": debit.id,
                    "amount": debit.amount,
                    "refunds_total": refunds.total,
                    "refunds": [
                        {"id": detail.refund.id, "amount": detail.refund.amount}
                        for detail in refunds.items
                    ],
                }
            )
        shown.append(
            {
                "id": marketplace.id,
                "name": marketplace.name,
                "debits_total": total,
                "debits": debits,
            }
        )
    return {"marketplaces_total": marketplaces.total, "marketplaces": shown}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
