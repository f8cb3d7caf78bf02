"""What the checks need to know about a case: its API, operation, effective query and body."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from conformance.apis import Api, api_titled


def api_of(case: Any) -> Api | None:
    return api_titled(case.operation.schema.raw_schema.get("info", {}).get("title", ""))


def operation_id(case: Any) -> str | None:
    found = case.operation.definition.raw.get("operationId")
    return str(found) if found is not None else None


def query_value(case: Any, response: Any, name: str) -> Any:
    """The query parameter as sent (read from the request URL), or the contract's default.

    Integers come back as ints and repeated parameters as lists; a value that does not parse
    is returned as sent, for the check to ignore. A parameter the operation does not document
    is None, whatever was sent: a generated request may carry one (`end_date` on
    `GET /accounts`), and the target ignores it.
    """
    documented = {parameter.name: parameter for parameter in case.operation.query}
    if name not in documented:
        return None
    sent = parse_qs(urlsplit(str(response.request.url)).query, keep_blank_values=True)
    if name in sent:
        values = [_typed(value) for value in sent[name]]
        return values if len(values) > 1 or name == "statuses" else values[0]
    return documented[name].definition.get("schema", {}).get("default")


def _typed(value: str) -> Any:
    # ASCII digits only: str.isdigit() is also true of "¹", which int() refuses.
    return int(value) if value.isascii() and value.isdigit() else value


def json_body(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def is_positive(case: Any) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive
