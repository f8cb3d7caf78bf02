"""Checks on Balanced responses: list links, and refunds against the debit they embed."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import schemathesis

from conformance.checks._case import api_of, json_body, query_value

LINKS = ("uri", "first_uri", "previous_uri", "next_uri", "last_uri")


def _balanced_body(response: Any, case: Any) -> Any:
    api = api_of(case)
    if api is None or api.name != "balanced" or response.status_code not in (200, 201):
        return None
    return json_body(response)


def _offset_of(link: str, path: str, limit: int) -> int:
    parts = urlsplit(link)
    if not parts.path.endswith(path.split("/v1", 1)[-1]):
        raise AssertionError(f"link {link} leaves the list {path}")
    query = parse_qs(parts.query)
    if query.get("limit") != [str(limit)]:
        raise AssertionError(f"link {link} does not keep limit={limit}")
    return int(query.get("offset", ["0"])[0])


@schemathesis.check
def balanced_page_links_lead_to_their_pages(ctx: Any, response: Any, case: Any) -> bool | None:
    """``items``, ``total``, ``limit``, ``offset`` agree, and each link names the right page."""
    page = _balanced_body(response, case)
    if not (isinstance(page, dict) and {"items", "total", *LINKS} <= set(page)):
        return None
    limit, offset, total = page["limit"], page["offset"], page["total"]
    asked_limit = query_value(case, response, "limit")
    asked_offset = query_value(case, response, "offset")
    path = urlsplit(str(response.request.url)).path
    expected = {
        "uri": offset,
        "first_uri": 0,
        "previous_uri": max(offset - limit, 0) if offset > 0 else None,
        "next_uri": offset + limit if offset + limit < total else None,
        "last_uri": (total - 1) // limit * limit if total else 0,
    }
    problems = []
    if isinstance(asked_limit, int) and limit != asked_limit:
        problems.append(f"limit is {limit}, asked for {asked_limit}")
    if isinstance(asked_offset, int) and offset != asked_offset:
        problems.append(f"offset is {offset}, asked for {asked_offset}")
    if len(page["items"]) != max(0, min(limit, total - offset)):
        problems.append(f"{len(page['items'])} items at offset {offset} of {total}, limit {limit}")
    for name, want in expected.items():
        link = page[name]
        if want is None:
            if link is not None:
                problems.append(f"{name} is {link}, there is no such page")
        elif link is None:
            problems.append(f"{name} is null, expected offset {want}")
        elif (got := _offset_of(link, path, limit)) != want:
            problems.append(f"{name} leads to offset {got}, expected {want}")
    if problems:
        raise AssertionError("List envelope and links disagree: " + "; ".join(problems))
    return True


def _refunds_in(body: Any) -> list[dict[str, Any]]:
    candidates = body.get("items", [body]) if isinstance(body, dict) else []
    return [
        item
        for item in candidates
        if isinstance(item, dict) and isinstance(item.get("debit"), dict) and "fee" in item
    ]


@schemathesis.check
def balanced_refund_stays_within_its_debit(ctx: Any, response: Any, case: Any) -> bool | None:
    """A refund reverses a fee (negative) no larger than its debit's, refunds no more than the
    debit's amount, and appears on the statement as the debit does."""
    body = _balanced_body(response, case)
    refunds = _refunds_in(body)
    if not refunds:
        return None
    for refund in refunds:
        debit = refund["debit"]
        numbers = (refund.get("fee"), refund.get("amount"), debit.get("fee"), debit.get("amount"))
        if not all(isinstance(n, int) for n in numbers):
            return None  # types are the schema check's to report
        if refund["fee"] > 0 or -refund["fee"] > debit["fee"]:
            raise AssertionError(
                f"Refund {refund.get('id')} reverses fee {refund['fee']} of a debit with fee "
                f"{debit['fee']}"
            )
        if refund["amount"] > debit["amount"]:
            raise AssertionError(
                f"Refund {refund.get('id')} of {refund['amount']} exceeds its debit of "
                f"{debit['amount']}"
            )
        if refund.get("appears_on_statement_as") != debit.get("appears_on_statement_as"):
            raise AssertionError(
                f"Refund {refund.get('id')} appears on the statement as "
                f"{refund.get('appears_on_statement_as')!r}, its debit as "
                f"{debit.get('appears_on_statement_as')!r}"
            )
    return True


CHECKS = (balanced_page_links_lead_to_their_pages, balanced_refund_stays_within_its_debit)
