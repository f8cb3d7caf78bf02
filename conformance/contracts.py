"""The contracts as Schemathesis schemas, configured for this run by the plugin.

Each loads when first asked for (``schema_for``), not at import: the plugin points the selected
API's at the target before the suite's tests are collected, and the test modules ask for each
registered API's as they are collected (Schemathesis' lazy ``from_fixture`` loader does not work
under pytest 9). A run's settings live on its schema's own configuration, not in this module.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

import conformance.checks  # noqa: F401  (registers the suite's checks)
from conformance import spending
from conformance.apis import APIS
from conformance.options import RunOptions

# Both vendors document 400 for business-rule refusals (over-refunds, exhausted debits), so a
# schema-valid request may get one. `valid_request_not_rejected_as_malformed` still catches a 400
# that calls a valid request malformed.
POSITIVE_DATA_EXPECTED_STATUSES = ["2xx", "400", "401", "403", "404", "409"]
STATEFUL_STEPS = 6
DEFAULT_EXAMPLES = 10  # when the suite is collected without a run configured


def _load(contract_path: str) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {"expected-statuses": POSITIVE_DATA_EXPECTED_STATUSES},
                # Replaced by the suite's versions that also accept 501 (checks/common.py).
                "not_a_server_error": {"enabled": False},
                "unsupported_method": {"enabled": False},
            },
            # Reproduction lines must reproduce: Schemathesis would mask every field named like
            # a secret (a refund's "token"); the suite masks the credentials alone (redact).
            "output": {"sanitization": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_path(contract_path, config=config)


@functools.cache
def schema_for(api: str) -> Any:
    """The API's contract as a Schemathesis schema (one per process, configured for the run)."""
    return _load(APIS[api].contract_path)


# Responses to generated requests, by status class ("2xx", "4xx", ...), for the report.
ANSWERED: Counter[str] = Counter()


@schemathesis.hook("after_call")
def _count_answer(context: Any, case: Any, response: Any) -> None:
    ANSWERED[f"{response.status_code // 100}xx"] += 1
    if case.method.upper() == "POST" and 200 <= response.status_code < 300:
        try:
            body = response.json()
        except ValueError:
            body = None
        spending.record(case.method, case.formatted_path, response.status_code, body)


# Framing headers belong to the HTTP client. A generated value for one (seen once: a GET with
# `content-length: (So`) breaks the request itself, and the server can only refuse it at the
# protocol level (uvicorn: text/plain 400) before any API code runs: that says nothing about the
# contract, so the client sets these and generated ones are dropped.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection"})


@schemathesis.hook("before_call")
def _drop_framing_headers(context: Any, case: Any, **kwargs: Any) -> None:
    for name in [name for name in case.headers or {} if name.lower() in FRAMING_HEADERS]:
        del case.headers[name]


def configure(
    options: RunOptions, parameters: dict[str, str], headers: dict[str, str] | None = None
) -> None:
    """Point the selected API's schema at the target; ``parameters`` pins path parameters to
    real resources (an account with a credit balance, a marketplace) so that generated requests
    reach the business logic instead of 404."""
    schema = schema_for(options.api)
    schema.config.update(
        base_url=options.base_url,
        basic_auth=options.auth,
        headers=headers or None,
        rate_limit=f"{options.max_rps}/s" if options.max_rps else None,
        parameters=parameters,
    )
    schema.config.generation.update(max_examples=options.max_examples)
    if options.read_only:
        # The coverage phase also tries methods the contract does not list (POST, DELETE, ...)
        # on every path: a shared sandbox may implement them.
        schema.config.phases.coverage.unexpected_methods = set()


def stateful_settings(api: str) -> settings:
    """Linked sequences of ``api``: half as many as the run's examples (at least 2)."""
    examples = schema_for(api).config.generation.max_examples or DEFAULT_EXAMPLES
    return settings(
        max_examples=max(2, examples // 2),
        stateful_step_count=STATEFUL_STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
