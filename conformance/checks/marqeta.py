"""Checks on Marqeta list responses: the page envelope, the sort order and the filters."""

from __future__ import annotations

from typing import Any

import schemathesis

from conformance.checks._case import api_of, json_body, query_value


def _sorted_on(case: Any, sort_by: str) -> str | None:
    """The response field a ``sort_by`` value sorts on: Marqeta sorts by "system field names"
    (``lastModifiedTime``), and the contract says which field each stands for
    (``x-mock-sorts-on`` on the parameter: one field, or a field for each system name)."""
    for parameter in case.operation.query:
        definition = parameter.definition
        if parameter.name == "sort_by" and sort_by in definition.get("schema", {}).get("enum", []):
            field = definition.get("x-mock-sorts-on")
            if isinstance(field, dict):
                field = field.get(sort_by.removeprefix("-"))
            return str(field) if field is not None else None
    return None


def _page(response: Any, case: Any) -> dict[str, Any] | None:
    api = api_of(case)
    if api is None or api.name != "marqeta" or response.status_code != 200:
        return None
    body = json_body(response)
    if isinstance(body, dict) and {"count", "start_index", "is_more", "data"} <= set(body):
        return body
    return None


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@schemathesis.check
def marqeta_page_envelope_is_consistent(ctx: Any, response: Any, case: Any) -> bool | None:
    """``count`` is the number returned, the page starts where asked, ``end_index`` is its last
    item, it is no longer than asked for, and a short page has no more after it."""
    page = _page(response, case)
    if page is None:
        return None
    data = page["data"]
    asked_count = _int(query_value(case, response, "count"), len(data))
    asked_start = _int(query_value(case, response, "start_index"), 0)
    problems = []
    if page["count"] != len(data):
        problems.append(f"count is {page['count']} but data has {len(data)} items")
    if page["start_index"] != asked_start:
        problems.append(f"start_index is {page['start_index']}, asked for {asked_start}")
    if len(data) > asked_count:
        problems.append(f"{len(data)} items returned, count asked for {asked_count}")
    if data and page.get("end_index") != asked_start + len(data) - 1:
        problems.append(
            f"end_index is {page.get('end_index')}, the last item's index is "
            f"{asked_start + len(data) - 1}"
        )
    if len(data) < asked_count and page["is_more"]:
        problems.append(f"is_more is true on a page of {len(data)} < {asked_count} items")
    if problems:
        raise AssertionError("Inconsistent page envelope: " + "; ".join(problems))
    return True


@schemathesis.check
def marqeta_list_sorted_as_requested(ctx: Any, response: Any, case: Any) -> bool | None:
    """Items come in the order ``sort_by`` (or its documented default) asks for."""
    page = _page(response, case)
    sort_by = query_value(case, response, "sort_by")
    field = _sorted_on(case, sort_by) if isinstance(sort_by, str) else None
    if page is None or field is None:
        return None
    values = [item.get(field) for item in page["data"]]
    if any(not isinstance(value, str) for value in values):
        return None  # a missing field is the schema check's to report
    if values != sorted(values, reverse=sort_by.startswith("-")):
        raise AssertionError(f"Items are not sorted by {sort_by} ({field}): {values}")
    return True


@schemathesis.check
def marqeta_list_respects_its_filters(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every item matches ``statuses`` and lies within ``start_date``..``end_date`` (inclusive)."""
    page = _page(response, case)
    if page is None:
        return None
    statuses = query_value(case, response, "statuses")
    if isinstance(statuses, str):
        statuses = [statuses]
    start, end = query_value(case, response, "start_date"), query_value(case, response, "end_date")
    for item in page["data"]:
        if statuses and item.get("status") not in statuses:
            raise AssertionError(f"Item with status {item.get('status')} listed for {statuses}")
        day = str(item.get("created_time", ""))[:10]
        if (isinstance(start, str) and day < start) or (isinstance(end, str) and day > end):
            raise AssertionError(f"Item created {day} listed for {start}..{end}")
    return True


CHECKS = (
    marqeta_page_envelope_is_consistent,
    marqeta_list_sorted_as_requested,
    marqeta_list_respects_its_filters,
)
