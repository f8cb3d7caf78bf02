"""A model's wire shape, read from its vendor's contract: written once, in the contract.

A response object has the properties of its schema, in the schema's order. Each property's value
is the model's attribute of the same name (or the one ``renamed`` names, what ``computed`` works
out, or an object the caller embeds), written as the schema's type says: a ``number`` from an
exact Decimal, a ``date-time`` string from an aware datetime in the vendor's spelling. A
property the model leaves None is left out when the schema neither requires it nor allows null
("conditionally returned", as Marqeta writes it); otherwise it is sent as null.

The shape is worked out once per schema: writing an object is a loop over prepared steps. A
schema property the model cannot supply is an error when the shape is made, so the contract and
the models cannot drift apart unnoticed.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from mock_server.json_types import Json
from mock_server.money import decimal_from_json, json_number
from mock_server.spec import Contract, resolved, schema

Getter = Callable[[Any], Any]


@dataclass(frozen=True)
class WireShape:
    schema_name: str
    # (property, how to read it from the model, how to write it, left out when None); a
    # property the caller embeds has no reader
    steps: tuple[tuple[str, Getter | None, Callable[[Any], Any] | None, bool], ...]
    # (property, the model field it writes, how its JSON becomes the field's value): what an
    # answer written by this shape tells of a model, read back by the proxy's recorder
    fields: tuple[tuple[str, str, Callable[[Any], Any] | None], ...] = ()

    def write(self, model: Any, **embedded: Any) -> Json:
        """``model`` as the schema writes it; ``embedded`` gives the embedded properties."""
        body: Json = {}
        for name, read, convert, optional in self.steps:
            value = read(model) if read is not None else embedded[name]
            if value is not None:
                body[name] = value if convert is None else convert(value)
            elif not optional:
                body[name] = None
        return body

    def read(self, body: Json) -> Json:
        """The model fields ``body`` (an object this shape writes) holds, as the model types
        them: what is not in it (a computed URI, an embedded object) is not read. Numbers
        should come parsed as Decimal (``json.loads(..., parse_float=Decimal)``) to stay exact."""
        read: Json = {}
        for name, attribute, parse in self.fields:
            if name in body:
                value = body[name]
                read[attribute] = value if value is None or parse is None else parse(value)
        return read


def wire_shape(
    contract: Contract,
    schema_name: str,
    model: type,
    timestamp: Callable[[datetime], str],
    renamed: Mapping[str, str] | None = None,
    computed: Mapping[str, Getter] | None = None,
    embedded: frozenset[str] = frozenset(),
) -> WireShape:
    """The shape of ``model`` as the contract's ``schema_name`` writes it.

    ``renamed`` maps a property to the model attribute that holds it (``created_time`` ->
    ``created_at``); ``computed`` gives what no attribute holds (a URI); ``embedded`` names the
    properties ``write`` is given (another object, written by its own shape).
    """
    renamed, computed = renamed or {}, computed or {}
    target = resolved(contract, schema(contract, schema_name))
    attributes = {field.name for field in dataclasses.fields(model)} | {
        name for name in dir(model) if isinstance(getattr(model, name, None), property)
    }
    model_fields = {field.name for field in dataclasses.fields(model)}
    required = set(target.get("required", ()))
    steps = []
    fields = []
    for name, definition in target["properties"].items():
        definition = resolved(contract, definition)
        read: Getter | None
        if name in embedded:
            read = None
        elif name in computed:
            read = computed[name]
        else:
            attribute = renamed.get(name, name)
            if attribute not in attributes:
                raise LookupError(
                    f"{model.__name__} has nothing for {schema_name}.{name}:"
                    " add the attribute, or name it in renamed or computed"
                )
            read = _attribute(attribute)
            if attribute in model_fields and not _secret(definition):
                fields.append((name, attribute, _reader(definition)))
        optional = name not in required and not definition.get("nullable", False)
        as_is = name in computed or name in embedded  # already what the wire holds
        steps.append((name, read, None if as_is else _writer(definition, timestamp), optional))
    return WireShape(schema_name, tuple(steps), tuple(fields))


def _attribute(name: str) -> Getter:
    return operator.attrgetter(name)


def _writer(definition: Json, timestamp: Callable[[datetime], str]) -> Callable[[Any], Any] | None:
    """How a model's value becomes the property's JSON (None: as it is)."""
    if definition.get("type") == "number":
        return json_number
    if definition.get("format") == "date-time":
        return timestamp
    return None


def _secret(definition: Json) -> bool:
    """A property the contract marks secret: never read back from an answer."""
    return definition.get("format") == "password" or bool(definition.get("writeOnly"))


def _reader(definition: Json) -> Callable[[Any], Any] | None:
    """How the property's JSON becomes the model's value (None: as it is)."""
    if definition.get("type") == "number":
        return _exact
    if definition.get("format") == "date-time":
        return datetime.fromisoformat
    return None


def _exact(number: Any) -> Decimal:
    return number if isinstance(number, Decimal) else decimal_from_json(number)
