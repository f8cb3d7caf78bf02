"""Checks for every API."""

from __future__ import annotations

from typing import Any

import schemathesis

from conformance.checks._case import api_of, is_positive, json_body


@schemathesis.check
def valid_request_not_rejected_as_malformed(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request the contract allows may be refused by a business rule, never as malformed.

    Schemathesis' own positive-data check cannot tell the two apart when both answer 400; the
    vendor's error body can (the contract's ``invalid_request`` error).
    """
    api = api_of(case)
    if api is None or not is_positive(case):
        return None
    body = json_body(response)
    if api.is_malformed_request_error(response.status_code, body):
        raise AssertionError(
            "A request the contract allows was refused as malformed.\n"
            f"Expected: 2xx, or a business-rule refusal\nGot: {response.status_code} {body}"
        )
    return True
