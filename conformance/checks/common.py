"""Checks for every API."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error as builtin_not_a_server_error
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario
from schemathesis.specs.openapi.checks import unsupported_method as builtin_unsupported_method

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


def undocumented_success(operation: dict[str, Any], status: int) -> str | None:
    """Why a 2xx ``status`` is not one the operation documents, or None if it is.

    An operation's ``default`` response describes its errors: a 200 where the contract lists
    201 is a wrong status, which the default error schema would otherwise report as a body
    missing ``error_code``.
    """
    documented = [code for code in operation.get("responses", {}) if code != "default"]
    if not 200 <= status < 300 or str(status) in documented or "2XX" in documented:
        return None
    listed = ", ".join(sorted(documented)) or "none"
    return (
        f"{status} is not a documented status of {operation.get('operationId', 'the operation')}"
        f" (documented: {listed}, and default for errors)"
    )


@schemathesis.check
def success_status_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    """A success answers with a status the operation lists (``default`` covers errors only)."""
    why = undocumented_success(case.operation.definition.raw, response.status_code)
    if why is not None:
        raise AssertionError(why)
    return True


# Methods outside the contract ------------------------------------------------------------------
# Schemathesis' own checks want 405 for a method the contract does not list, and count any 5xx
# as a server error. RFC 9110 also allows 501 for a method the server does not recognise at all
# (TRACE, QUERY at a gateway): these two replace them, accepting 501 for exactly those probes and
# leaving every other answer to the built-in check.


def _probes_unlisted_method(case: Any) -> bool:
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    return (
        isinstance(data, CoveragePhaseData)
        and data.scenario == CoverageScenario.UNSPECIFIED_HTTP_METHOD
    )


@schemathesis.check
def unlisted_method_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    """A method the contract does not list is refused: 405 with Allow, or 501."""
    if _probes_unlisted_method(case) and response.status_code == 501:
        return True
    return builtin_unsupported_method(ctx, response, case)


@schemathesis.check
def not_a_server_error_but_501_for_unlisted_methods(
    ctx: Any, response: Any, case: Any
) -> bool | None:
    """No 5xx, except 501 to a method the contract does not list."""
    if _probes_unlisted_method(case) and response.status_code == 501:
        return True
    return builtin_not_a_server_error(ctx, response, case)
