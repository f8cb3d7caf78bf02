"""The contracts as Schemathesis schemas, configured for this run by the plugin.

They load at import (Schemathesis' lazy ``from_fixture`` loader does not work under pytest 9),
and the plugin points them at the target before the suite's tests are collected.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

import conformance.checks  # noqa: F401  (registers the suite's checks)
from conformance.apis import APIS
from conformance.options import RunOptions

# Both vendors document 400 for business-rule refusals (over-refunds, exhausted debits), so a
# schema-valid request may get one. `valid_request_not_rejected_as_malformed` still catches a 400
# that calls a valid request malformed.
POSITIVE_DATA_EXPECTED_STATUSES = ["2xx", "400", "401", "403", "404", "409"]
STATEFUL_STEPS = 6


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


SCHEMAS = {name: _load(api.contract_path) for name, api in APIS.items()}
# Responses to generated requests, by status class ("2xx", "4xx", ...), for the report.
ANSWERED: Counter[str] = Counter()


@schemathesis.hook("after_call")
def _count_answer(context: Any, case: Any, response: Any) -> None:
    ANSWERED[f"{response.status_code // 100}xx"] += 1


# Framing headers belong to the HTTP client. A generated value for one (seen once: a GET with
# `content-length: (So`) breaks the request itself, and the server can only refuse it at the
# protocol level (uvicorn: text/plain 400) before any API code runs: that says nothing about the
# contract, so the client sets these and generated ones are dropped.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection"})


@schemathesis.hook("before_call")
def _drop_framing_headers(context: Any, case: Any, **kwargs: Any) -> None:
    for name in [name for name in case.headers or {} if name.lower() in FRAMING_HEADERS]:
        del case.headers[name]


_options: RunOptions | None = None


def configure(
    options: RunOptions, parameters: dict[str, str], headers: dict[str, str] | None = None
) -> None:
    """Point the selected API's schema at the target; ``parameters`` pins path parameters to
    real resources (an account with a credit balance, a marketplace) so that generated requests
    reach the business logic instead of 404."""
    global _options
    _options = options
    schema = SCHEMAS[options.api]
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


def for_tests(api: str) -> Any:
    """The schema the suite's property tests for ``api`` run on (with --read-only, the plugin
    lists the operations that write as skipped, saying why)."""
    return SCHEMAS[api]


def stateful_settings() -> settings:
    examples = _options.max_examples if _options is not None else 10
    return settings(
        max_examples=max(2, examples // 2),
        stateful_step_count=STATEFUL_STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
