"""Stricter request validators plugged into Connexion's ``validator_map``.

Bodies: Connexion's default parser accepts ``NaN`` and ``Infinity``, silently rounds numbers a
float cannot hold (so ``0.1000000000000000055`` would become the amount 0.1), and answers 500 to a
body that is not UTF-8. Money needs better: each of these is a 400 here.

Parameters: Connexion checks them with Draft 4's format checker, which knows no ``date``, so
``start_date=2026-13-01`` reached the handler; and its messages carry jsonschema's full dump.
"""

from __future__ import annotations

import functools
import json
import re
import typing as t
from decimal import Decimal

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, ProblemException
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, FormatChecker, ValidationError
from jsonschema.validators import extend
from starlette.datastructures import Headers
from starlette.types import Receive, Scope

MAX_BODY_BYTES = 1024 * 1024  # the contracts' stated limit (their x-mock-assumption)


def _too_large() -> ProblemException:
    return ProblemException(
        status=413, title="Payload Too Large", detail=f"Request body is over {MAX_BODY_BYTES} bytes"
    )


def _exact_float(text: str) -> float:
    value = float(text)
    if Decimal(text) != Decimal(repr(value)):
        raise ValueError(f"number {text} cannot be represented exactly")
    return value


def _refuse_constant(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _refuse_duplicate_keys(pairs: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
    # Which of two "amount"s counts is up to each parser; a refund must not depend on it.
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"key {repeated!r} appears more than once")
    return found


# A JSON escape of a UTF-16 surrogate: the only way text that is not Unicode gets in.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_lone_surrogates(value: t.Any) -> None:
    """Refuse a string holding half of a surrogate pair: it is not Unicode text, and neither a
    store (UTF-8) nor a client could hold it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{value[:40]!r} holds a lone surrogate (not Unicode text)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_lone_surrogates(key)
            _refuse_lone_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_lone_surrogates(item)


def parse_json_strictly(raw: bytes) -> t.Any:
    """Parse a request body, raising ValueError for anything that is not exact, plain JSON of
    Unicode text with one value per key."""
    text = raw.decode("utf-8")
    value = json.loads(
        text,
        parse_float=_exact_float,
        parse_constant=_refuse_constant,
        object_pairs_hook=_refuse_duplicate_keys,
    )
    if _SURROGATE_ESCAPE.search(text):  # paired escapes decode to one character and pass
        _refuse_lone_surrogates(value)
    return value


@functools.cache
def _whole_string(pattern: str) -> re.Pattern[str]:
    # In JSON Schema (ECMA 262) "$" ends the string; in Python it also matches before a final
    # newline, which would let "token\n" through a pattern that refuses control characters.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _ecma_pattern(
    validator: t.Any, pattern: str, instance: t.Any, schema: t.Any
) -> t.Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _whole_string(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


RequestValidator = extend(Draft4RequestValidator, {"pattern": _ecma_pattern})
PARAMETER_FORMATS = FormatChecker()
ParameterSchemaValidator = extend(Draft4Validator, {"pattern": _ecma_pattern})


# Connexion builds its validators for every request, and each built its jsonschema validators
# anew (3 % of a create for the body alone, profiled): keep one per schema. Keyed by identity, as
# the operation hands over the same schema objects each time; the schema is kept so that its id
# cannot be reused.
_COMPILED: dict[tuple[type, int], tuple[t.Any, t.Any]] = {}


def _compiled(validator_class: type, schema: t.Any, format_checker: FormatChecker) -> t.Any:
    cached = _COMPILED.get((validator_class, id(schema)))
    if cached is None or cached[0] is not schema:
        cached = (schema, validator_class(schema, format_checker=format_checker))
        _COMPILED[(validator_class, id(schema))] = cached
    return cached[1]


class StrictJSONRequestBodyValidator(JSONRequestBodyValidator):
    @property
    def _validator(self) -> t.Any:
        return _compiled(RequestValidator, self._schema, Draft4Validator.FORMAT_CHECKER)

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        # Connexion takes a request without Content-Length for one without a body, which a
        # chunked upload is not: read it whole first and give it its length.
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if length.isascii() and length.isdigit() and int(length) > MAX_BODY_BYTES:
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
            chunks, size, more_body = [], 0, True
            while more_body:
                message = await receive()
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > MAX_BODY_BYTES:
                    raise _too_large()
                more_body = message.get("more_body", False)
            body = b"".join(chunks)
            kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"transfer-encoding"]
            scope = {**scope, "headers": [*kept, (b"content-length", str(len(body)).encode())]}
            whole = {"type": "http.request", "body": body, "more_body": False}
            receive = self._insert_messages(receive, messages=[whole])
        return await super().wrap_receive(receive, scope=scope)

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
    @staticmethod
    def validate_parameter(
        parameter_type: str, value: t.Any, param: dict[str, t.Any], param_name: str | None = None
    ) -> str | None:
        name = param.get("name", param_name)
        if value is None:
            return f"Missing {parameter_type} parameter '{name}'" if param.get("required") else None
        try:
            _compiled(
                ParameterSchemaValidator, param.get("schema", param), PARAMETER_FORMATS
            ).validate(value)
        except ValidationError as exc:
            return f"Invalid {parameter_type} parameter '{name}': {exc.message}"
        return None


def validator_map() -> dict[str, t.Any]:
    """Connexion's validators with the strict body and parameter validators swapped in."""
    body = MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": StrictJSONRequestBodyValidator})
    return {**VALIDATOR_MAP, "body": body, "parameter": StrictParameterValidator}
