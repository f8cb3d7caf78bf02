"""What the mock's request validation refuses beyond Connexion's, as plain functions and
jsonschema validators (``connexion_adapter`` plugs them into Connexion's ``validator_map``).

Bodies: Connexion's default parser accepts ``NaN`` and ``Infinity``, silently rounds numbers a
float cannot hold (so ``0.1000000000000000055`` would become the amount 0.1), and answers 500 to a
body that is not UTF-8. Money needs better: each of these is a 400 here.

Parameters: Connexion checks them with Draft 4's format checker, which knows no ``date``, so
``start_date=2026-13-01`` reached the handler; and its messages carry jsonschema's full dump.
"""

from __future__ import annotations

import collections
import functools
import json
import re
import typing as t
from decimal import Decimal

from connexion.json_schema import Draft4RequestValidator
from jsonschema import Draft4Validator, FormatChecker, ValidationError
from jsonschema.validators import extend

from mock_server.contract_facts import agreed_max_body_bytes
from mock_server.registry import VENDORS
from mock_server.spec import load_contract


@functools.cache
def max_body_bytes_served() -> int:
    """The largest request body any served contract allows (``x-mock-max-body-bytes``): read
    when first asked, not when this module is imported."""
    return agreed_max_body_bytes([load_contract(vendor.contract_file) for vendor in VENDORS])


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
        counted = collections.Counter(key for key, _ in pairs)
        repeated = next(key for key, _ in pairs if counted[key] > 1)
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


# jsonschema's stubs leave ``extend`` unannotated; what it makes is a validator class.
_extend = t.cast(t.Callable[[t.Any, dict[str, t.Any]], type[Draft4Validator]], extend)
RequestValidator = _extend(Draft4RequestValidator, {"pattern": _ecma_pattern})
PARAMETER_FORMATS = FormatChecker()
ParameterSchemaValidator = _extend(Draft4Validator, {"pattern": _ecma_pattern})


# Connexion builds its validators for every request, and each built its jsonschema validators
# anew (3 % of a create for the body alone, profiled): keep one per schema. Keyed by identity, as
# the operation hands over the same schema objects each time; the schema is kept so that its id
# cannot be reused.
_COMPILED: dict[tuple[type, int], tuple[t.Any, t.Any]] = {}


def compiled_validator(
    validator_class: type, schema: t.Any, format_checker: FormatChecker
) -> t.Any:
    cached = _COMPILED.get((validator_class, id(schema)))
    if cached is None or cached[0] is not schema:
        cached = (schema, validator_class(schema, format_checker=format_checker))
        _COMPILED[(validator_class, id(schema))] = cached
    return cached[1]
