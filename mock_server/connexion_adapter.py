"""Where the mock leans on Connexion's private behaviour: every such name is here, and only here.

Connexion 3 has public extension points for both things the mock changes (``security_map`` for
the HTTP Basic check, ``validator_map`` for request validation), but what they accept is a class
whose useful behaviour sits behind private methods. Each private name below is pinned by
``tests/test_connexion_adapter.py``, which fails if Connexion stops calling it the way this
module expects, so an upgrade breaks a test rather than the mock:

- ``AbstractSecurityHandler._resolve_func(security_scheme)``: where a handler finds the credential
  check. Connexion would import one named by ``x-basicInfoFunc`` in the contract; ours is given
  here, so no Python module path enters a vendor contract.
- ``AbstractSecurityHandler._accepts_kwarg(func, keyword)``: called twice per request to inspect
  the check's signature (about 7 % of a create, profiled); cached here.
- ``AbstractRequestBodyValidator._schema``: the operation's body schema.
- ``JSONRequestBodyValidator._validator``: the jsonschema validator its ``_validate`` uses; ours
  reads patterns as ECMA 262 does and is built once per schema rather than per request.
- ``AbstractRequestBodyValidator._parse(stream, scope)``: how a body becomes a value; ours is
  ``validation.parse_json_strictly``.
- ``AbstractRequestBodyValidator._insert_messages(receive, messages=...)``: replays a body read
  ahead (a chunked upload, read whole to measure it).

uvicorn's protocol internals have their own single module, ``connections.py``.
"""

from __future__ import annotations

import functools
import typing as t

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, ProblemException
from connexion.security import BasicSecurityHandler
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, ValidationError
from starlette.datastructures import Headers
from starlette.types import Receive, Scope

from mock_server.validation import (
    PARAMETER_FORMATS,
    ParameterSchemaValidator,
    RequestValidator,
    compiled_validator,
    max_body_bytes_served,
    parse_json_strictly,
)

# A credential check: (user, password) as Connexion decoded them -> token info, or None to refuse.
CredentialCheck = t.Callable[[str, str], dict[str, t.Any] | None]


def security_map(check: CredentialCheck) -> dict[str, type]:
    """Connexion's ``security_map`` with an HTTP Basic handler that asks ``check``."""

    class ConfiguredBasicHandler(BasicSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, t.Any]) -> CredentialCheck:
            return check

        _accepts_kwarg = staticmethod(functools.cache(BasicSecurityHandler._accepts_kwarg))

    return {"basic": ConfiguredBasicHandler}


def _too_large() -> ProblemException:
    return ProblemException(
        status=413,
        title="Payload Too Large",
        detail=f"Request body is over {max_body_bytes_served()} bytes",
    )


class StrictJSONRequestBodyValidator(JSONRequestBodyValidator):
    """Connexion's JSON body validator, parsing with ``parse_json_strictly`` and refusing what it
    would mishandle: a body over the size limit (413), a body without a Content-Type (415)."""

    @property
    def _validator(self) -> t.Any:
        return compiled_validator(RequestValidator, self._schema, Draft4Validator.FORMAT_CHECKER)

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        # Connexion takes a request without Content-Length for one without a body, which a
        # chunked upload is not: read it whole first and give it its length.
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if length.isascii() and length.isdigit() and int(length) > max_body_bytes_served():
            raise _too_large()
        sent_a_body = (length not in ("", "0")) or "transfer-encoding" in headers
        if sent_a_body and "content-type" not in headers:
            # Connexion would guess JSON to validate it, then hand the handler raw bytes.
            raise ProblemException(
                status=415,
                title="Unsupported Media Type",
                detail="A request body needs Content-Type: application/json",
            )
        if "content-length" not in headers and "transfer-encoding" in headers:
            chunks: list[bytes] = []
            size, more_body = 0, True
            while more_body:
                message = await receive()
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > max_body_bytes_served():
                    raise _too_large()
                more_body = message.get("more_body", False)
            body = b"".join(chunks)
            kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"transfer-encoding"]
            scope = {**scope, "headers": [*kept, (b"content-length", str(len(body)).encode())]}
            whole = {"type": "http.request", "body": body, "more_body": False}
            receive = self._insert_messages(receive, messages=[whole])
        wrapped: tuple[Receive, Scope] = await super().wrap_receive(receive, scope=scope)
        return wrapped

    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope: Scope) -> t.Any:
        raw = b"".join([message async for message in stream])
        if not raw.strip():
            return None
        try:
            return parse_json_strictly(raw)
        except UnicodeDecodeError as exc:
            raise BadRequestProblem(
                detail=f"Request body is not valid UTF-8: {exc.reason}"
            ) from exc
        except RecursionError as exc:
            raise BadRequestProblem(detail="Request body is nested too deeply") from exc
        except ValueError as exc:
            raise BadRequestProblem(detail=f"Request body is not valid JSON: {exc}") from exc


class StrictParameterValidator(ParameterValidator):
    """Parameters checked with a format checker that knows ``date`` (Connexion's Draft 4 one
    does not), and messages without jsonschema's dump of the schema."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: t.Any, param: dict[str, t.Any], param_name: str | None = None
    ) -> str | None:
        name = param.get("name", param_name)
        if value is None:
            return f"Missing {parameter_type} parameter '{name}'" if param.get("required") else None
        try:
            compiled_validator(
                ParameterSchemaValidator, param.get("schema", param), PARAMETER_FORMATS
            ).validate(value)
        except ValidationError as exc:
            return f"Invalid {parameter_type} parameter '{name}': {exc.message}"
        return None


def validator_map() -> dict[str, t.Any]:
    """Connexion's validators with the strict body and parameter validators swapped in."""
    body = MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": StrictJSONRequestBodyValidator})
    return {**VALIDATOR_MAP, "body": body, "parameter": StrictParameterValidator}
