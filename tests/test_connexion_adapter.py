"""Each Connexion private name connexion_adapter.py relies on, checked for the behaviour it
relies on: a Connexion upgrade that changes one fails here, not in a user's mock."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from connexion.exceptions import BadRequestProblem, OAuthResponseProblem
from connexion.security import AbstractSecurityHandler, BasicSecurityHandler
from connexion.validators.abstract import AbstractRequestBodyValidator
from starlette.datastructures import Headers

from mock_server.auth import Credentials
from mock_server.connexion_adapter import (
    StrictJSONRequestBodyValidator,
    StrictParameterValidator,
    security_map,
)

CREDENTIALS = Credentials((("app", "secret"),))
BASIC_SCHEME = {"type": "http", "scheme": "basic"}


class _Request:
    """What Connexion's security wrapper reads of a request: its headers."""

    def __init__(self, user: str, password: str) -> None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = Headers({"authorization": f"Basic {token}"})


def _verify(handler_class: type) -> Any:
    """The request check Connexion builds from a handler for an HTTP Basic scheme."""
    return handler_class().get_fn(BASIC_SCHEME, [])


def test_resolve_func_is_where_the_basic_handler_finds_the_credential_check():
    verify = _verify(security_map(CREDENTIALS.check)["basic"])
    assert verify is not None, "get_fn no longer asks _resolve_func for the check"
    assert asyncio.run(verify(_Request("app", "secret"))) == {"sub": "app"}
    with pytest.raises(OAuthResponseProblem):
        asyncio.run(verify(_Request("app", "wrong")))


def test_accepts_kwarg_is_asked_on_every_request_so_caching_it_pays():
    asked: list[str] = []

    adapted: Any = security_map(CREDENTIALS.check)["basic"]

    class Counting(adapted):
        @staticmethod
        def _accepts_kwarg(func: Any, keyword: str) -> bool:
            asked.append(keyword)
            return False

    verify = _verify(Counting)
    asyncio.run(verify(_Request("app", "secret")))
    asyncio.run(verify(_Request("app", "secret")))
    assert asked.count(AbstractSecurityHandler.request_kw) == 2
    # The adapter's cached version answers as Connexion's own does.
    cached = adapted._accepts_kwarg
    assert cached(CREDENTIALS.check, "request") is BasicSecurityHandler._accepts_kwarg(
        CREDENTIALS.check, "request"
    )


def _body_validator(schema: dict[str, Any]) -> StrictJSONRequestBodyValidator:
    return StrictJSONRequestBodyValidator(
        schema=schema, required=True, nullable=False, encoding="utf-8", strict_validation=True
    )


def test_schema_holds_the_operations_body_schema():
    schema = {"type": "object"}
    assert _body_validator(schema)._schema is schema


def test_validate_uses_the_validator_property():
    # Connexion's own validator reads "$" as Python does: "ab\n" would match "^[a-z]+$".
    validator = _body_validator({"type": "string", "pattern": "^[a-z]+$"})
    validator._validate("ab")
    with pytest.raises(BadRequestProblem, match="does not match"):
        validator._validate("ab\n")


async def _wrapped_body(validator: Any, body: bytes, headers: dict[str, str]) -> bytes:
    """Run a body through ``wrap_receive``; what the app behind it would read."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
    }
    wrapped, _scope = await validator.wrap_receive(receive, scope=scope)
    return (await wrapped())["body"]


def test_parse_is_how_wrap_receive_reads_the_body():
    validator = _body_validator({"type": "object"})
    headers = {"content-type": "application/json", "content-length": "12"}
    with pytest.raises(BadRequestProblem, match="not valid JSON"):
        asyncio.run(_wrapped_body(validator, b'{"a": NaN}  ', headers))
    assert asyncio.run(_wrapped_body(validator, b'{"a": 1.5}  ', headers)) == b'{"a": 1.5}  '


def test_insert_messages_replays_a_body_read_ahead():
    validator = _body_validator({"type": "object"})
    chunked = {"content-type": "application/json", "transfer-encoding": "chunked"}
    assert asyncio.run(_wrapped_body(validator, b'{"a": 1}', chunked)) == b'{"a": 1}'

    async def replayed() -> list[Any]:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"after", "more_body": False}

        inserted = AbstractRequestBodyValidator._insert_messages(
            receive, messages=[{"body": b"first"}]
        )
        return [(await inserted())["body"], (await inserted())["body"]]

    assert asyncio.run(replayed()) == [b"first", b"after"]


def test_parameter_validator_hook_is_validate_parameter():
    # Connexion's ParameterValidator checks each parameter with self.validate_parameter(kind,
    # value, param); the strict one knows the "date" format, which Connexion's does not.
    param = {"name": "start_date", "in": "query", "schema": {"type": "string", "format": "date"}}
    validator = StrictParameterValidator([param], uri_parser=None)

    class _Query:
        def __init__(self, value: str) -> None:
            self.query_params = {"start_date": value}

    assert validator.validate_query_parameter(param, _Query("2026-01-31")) is None
    refused = validator.validate_query_parameter(param, _Query("2026-13-01"))
    assert refused is not None and refused.startswith("Invalid query parameter 'start_date'")
