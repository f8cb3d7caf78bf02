"""The URIs of Balanced resources on the mock: every one a path the mock serves (or names)."""

from __future__ import annotations

import re

BASE = "/v1"
_DEBIT_URI = re.compile(r"^/?v1/marketplaces/(?P<marketplace>[^/]+)/debits/(?P<debit>[^/]+)$")


def marketplace(marketplace_id: str) -> str:
    return f"{BASE}/marketplaces/{marketplace_id}"


def account(marketplace_id: str, account_id: str) -> str:
    return f"{marketplace(marketplace_id)}/accounts/{account_id}"


def debit(marketplace_id: str, debit_id: str) -> str:
    return f"{marketplace(marketplace_id)}/debits/{debit_id}"


def refund(marketplace_id: str, refund_id: str) -> str:
    return f"{marketplace(marketplace_id)}/refunds/{refund_id}"


def customer(account_id: str) -> str:
    """Where the account's customer would be (the mock models none: 404), as v1 writes it."""
    return f"{BASE}/customers/{account_id}"


def hold(marketplace_id: str, hold_id: str) -> str:
    return f"{marketplace(marketplace_id)}/holds/{hold_id}"


def card(marketplace_id: str, account_id: str, card_id: str) -> str:
    return f"{account(marketplace_id, account_id)}/cards/{card_id}"


def parse_debit(uri: str) -> tuple[str, str] | None:
    """(marketplace id, debit id) of a debit URI, or None if it is not one."""
    match = _DEBIT_URI.match(uri)
    return (match["marketplace"], match["debit"]) if match else None


def ids_in(uri: str) -> dict[str, str]:
    """The ids a v1 URI names, by collection: ``/v1/marketplaces/MP/debits/WD`` is
    ``{"marketplaces": "MP", "debits": "WD"}``."""
    parts = uri.split("?")[0].strip("/").split("/")[1:]  # below /v1
    return dict(zip(parts[::2], parts[1::2], strict=False))


def page_links(path: str, offset: int, limit: int, total: int) -> dict[str, str | None]:
    """The list envelope's links; each is a page of ``path`` that can be fetched, or None."""

    def at(page_offset: int) -> str:
        return f"{path}?limit={limit}&offset={page_offset}"

    last = (total - 1) // limit * limit if total else 0
    return {
        "uri": at(offset),
        "first_uri": at(0),
        "previous_uri": at(max(offset - limit, 0)) if offset > 0 else None,
        "next_uri": at(offset + limit) if offset + limit < total else None,
        "last_uri": at(last),
    }
