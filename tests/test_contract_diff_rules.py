"""Every rule of ``refund-contract diff`` has a pair of documents (BASE, NEW) that must produce
it, at the level the catalogue gives; compatible pairs must produce no error.

The pairs are small documents of our own: one operation that takes a query parameter and a
JSON body and answers with a JSON body and a header. A pair changes one part of it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.changes.compare import diff
from conformance.changes.documents import Source
from conformance.changes.findings import Finding
from conformance.changes.rules import OBJECT_KINDS, RULES, VALUE_KINDS, VALUE_SUBJECTS, Level

STRING = {"type": "string"}


def api(
    value: Any = None,
    *,
    subject: str = "",
    openapi: str = "3.0.3",
    version: str = "1.0.0",
    body: Any = None,
) -> dict[str, Any]:
    """The document: ``value`` is placed as the schema of the subject under test."""
    parameter = {"name": "q", "in": "query", "schema": STRING}
    request_body = body or {"type": "object", "properties": {"p": STRING}}
    response_body = {"type": "object", "properties": {"p": STRING}}
    header = {"schema": STRING}
    if subject == "request-parameter":
        parameter["schema"] = value
    elif subject == "request-property":
        request_body = {"type": "object", "properties": {"p": value}}
    elif subject == "response-property":
        response_body = {"type": "object", "properties": {"p": value}}
    elif subject == "response-header":
        header = {"schema": value}
    document = {
        "openapi": openapi,
        "info": {"title": "pairs", "version": version},
        "paths": {
            "/things/{id}": {
                "post": {
                    "operationId": "makeThing",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": STRING},
                        parameter,
                    ],
                    "requestBody": {
                        "content": {"application/json": {"schema": request_body}},
                    },
                    "responses": {
                        "201": {
                            "description": "made",
                            "headers": {"X-Thing": header},
                            "content": {"application/json": {"schema": response_body}},
                        },
                        "400": {"description": "refused"},
                    },
                }
            }
        },
    }
    # Each schema its own object, as a parsed file has them (tests edit one in place).
    copied: dict[str, Any] = json.loads(json.dumps(document))
    return copied


# Value kinds: (BASE schema, NEW schema), placed in each subject in turn.
VALUE_PAIRS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "type-narrowed": ({"type": "number"}, {"type": "integer"}),
    "type-widened": ({"type": "integer"}, {"type": "number"}),
    "type-changed": ({"type": "string"}, {"type": "integer"}),
    "became-nullable": (STRING, {"type": "string", "nullable": True}),
    "became-not-nullable": ({"type": "string", "nullable": True}, STRING),
    "format-added": (STRING, {"type": "string", "format": "date"}),
    "format-removed": ({"type": "string", "format": "date"}, STRING),
    "format-changed": (
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
    ),
    "enum-value-removed": (
        {"type": "string", "enum": ["ACH", "CHECK"]},
        {"type": "string", "enum": ["ACH"]},
    ),
    "enum-value-added": (
        {"type": "string", "enum": ["ACH"]},
        {"type": "string", "enum": ["ACH", "CHECK"]},
    ),
    "enum-added": (STRING, {"type": "string", "enum": ["ACH"]}),
    "enum-removed": ({"type": "string", "enum": ["ACH"]}, STRING),
    "max-decreased": ({"type": "integer", "maximum": 10}, {"type": "integer", "maximum": 5}),
    "max-increased": ({"type": "integer", "maximum": 5}, {"type": "integer"}),
    "min-increased": (
        {"type": "integer", "minimum": 1},
        {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
    ),
    "min-decreased": ({"type": "integer", "minimum": 1}, {"type": "integer", "minimum": 0}),
    "multiple-of-changed": (
        {"type": "integer", "multipleOf": 2},
        {"type": "integer", "multipleOf": 3},
    ),
    "max-length-decreased": (STRING, {"type": "string", "maxLength": 36}),
    "max-length-increased": (
        {"type": "string", "maxLength": 36},
        {"type": "string", "maxLength": 64},
    ),
    "min-length-increased": (
        {"type": "string", "minLength": 1},
        {"type": "string", "minLength": 2},
    ),
    "min-length-decreased": ({"type": "string", "minLength": 1}, STRING),
    "pattern-added": (STRING, {"type": "string", "pattern": "^[a-z]+$"}),
    "pattern-removed": ({"type": "string", "pattern": "^[a-z]+$"}, STRING),
    "pattern-changed": (
        {"type": "string", "pattern": "^[a-z]+$"},
        {"type": "string", "pattern": "^[a-z0-9]+$"},
    ),
    "max-items-decreased": (
        {"type": "array", "items": STRING, "maxItems": 5},
        {"type": "array", "items": STRING, "maxItems": 3},
    ),
    "max-items-increased": (
        {"type": "array", "items": STRING, "maxItems": 5},
        {"type": "array", "items": STRING},
    ),
    "min-items-increased": (
        {"type": "array", "items": STRING},
        {"type": "array", "items": STRING, "minItems": 1},
    ),
    "min-items-decreased": (
        {"type": "array", "items": STRING, "minItems": 2},
        {"type": "array", "items": STRING, "minItems": 1},
    ),
    "variant-removed": (
        {"oneOf": [{"title": "text", "type": "string"}, {"title": "count", "type": "integer"}]},
        {"oneOf": [{"title": "text", "type": "string"}]},
    ),
    "variant-added": (
        {"anyOf": [{"title": "text", "type": "string"}]},
        {"anyOf": [{"title": "text", "type": "string"}, {"title": "count", "type": "integer"}]},
    ),
    "default-changed": (
        {"type": "string", "default": "ACH"},
        {"type": "string", "default": "CHECK"},
    ),
}

OBJECT = {"type": "object", "properties": {"a": STRING, "b": STRING}, "required": ["a"]}


def _object(**changes: Any) -> dict[str, Any]:
    schema = copy.deepcopy(OBJECT)
    schema.update(changes)
    return schema


# Object kinds: (BASE, NEW) for the object under test (a property `p` of the body).
OBJECT_PAIRS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "removed": (OBJECT, _object(properties={"a": STRING})),
    "added": (OBJECT, _object(properties={"a": STRING, "b": STRING, "c": STRING})),
    "added-required": (
        OBJECT,
        _object(properties={"a": STRING, "b": STRING, "c": STRING}, required=["a", "c"]),
    ),
    "became-required": (OBJECT, _object(required=["a", "b"])),
    "became-optional": (OBJECT, _object(required=[])),
    "additional-properties-narrowed": (OBJECT, _object(additionalProperties=False)),
    "additional-properties-widened": (_object(additionalProperties=False), OBJECT),
    "max-properties-decreased": (OBJECT, _object(maxProperties=2)),
    "max-properties-increased": (_object(maxProperties=2), _object(maxProperties=3)),
    "min-properties-increased": (OBJECT, _object(minProperties=1)),
    "min-properties-decreased": (_object(minProperties=1), OBJECT),
}


def _operation(document: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"]["/things/{id}"]["post"]
    return operation


def _structure_pairs() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Hand-written pairs for the rules about operations and their parts."""
    pairs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    def pair(rule: str, base_edit: Any = None):
        def register(edit: Any) -> Any:
            base = api()
            if base_edit is not None:
                base_edit(base)
            new = copy.deepcopy(base)
            edit(new)
            pairs[rule] = (base, new)
            return edit

        return register

    def add_path(document: dict[str, Any]) -> None:
        document["paths"]["/things"] = {
            "get": {"operationId": "listThings", "responses": {"200": {"description": "ok"}}}
        }

    def add_get(document: dict[str, Any]) -> None:
        document["paths"]["/things/{id}"]["get"] = {
            "operationId": "getThing",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": STRING}],
            "responses": {"200": {"description": "ok"}},
        }

    def secured(document: dict[str, Any]) -> None:
        document["components"] = {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
            }
        }
        document["security"] = [{"basic": []}]

    pair("path-removed", add_path)(lambda d: d["paths"].pop("/things"))
    pair("path-added")(add_path)
    pair("operation-removed", add_get)(lambda d: d["paths"]["/things/{id}"].pop("get"))
    pair("operation-added")(add_get)
    pair("operation-id-changed")(lambda d: _operation(d).update(operationId="createThing"))
    pair("operation-deprecated")(
        lambda d: _operation(d).update({"deprecated": True, "x-sunset": "2027-06-30"})
    )
    pair("operation-deprecated-without-sunset")(lambda d: _operation(d).update(deprecated=True))
    pair("operation-security-narrowed", secured)(
        lambda d: _operation(d).update(security=[{"key": []}])
    )
    pair("operation-security-widened", secured)(
        lambda d: _operation(d).update(security=[{"basic": []}, {"key": []}])
    )
    pair("request-parameter-removed")(lambda d: _operation(d)["parameters"].pop())
    pair("request-parameter-added")(
        lambda d: _operation(d)["parameters"].append({"name": "r", "in": "query", "schema": STRING})
    )
    pair("request-parameter-added-required")(
        lambda d: _operation(d)["parameters"].append(
            {"name": "X-Idempotency-Key", "in": "header", "required": True, "schema": STRING}
        )
    )
    pair("request-parameter-became-required")(
        lambda d: _operation(d)["parameters"][1].update(required=True)
    )
    pair(
        "request-parameter-became-optional",
        lambda d: _operation(d)["parameters"][1].update(required=True),
    )(lambda d: _operation(d)["parameters"][1].update(required=False))
    pair("request-parameter-style-changed")(
        lambda d: _operation(d)["parameters"][1].update(explode=False)
    )
    pair("request-body-removed")(lambda d: _operation(d).pop("requestBody"))
    pair("request-body-added", lambda d: _operation(d).pop("requestBody"))(
        lambda d: _operation(d).update(
            requestBody=api()["paths"]["/things/{id}"]["post"]["requestBody"]
        )
    )
    pair("request-body-added-required", lambda d: _operation(d).pop("requestBody"))(
        lambda d: _operation(d).update(
            requestBody={"required": True, **_operation(api())["requestBody"]}
        )
    )
    pair("request-body-became-required")(
        lambda d: _operation(d)["requestBody"].update(required=True)
    )
    pair(
        "request-body-became-optional", lambda d: _operation(d)["requestBody"].update(required=True)
    )(lambda d: _operation(d)["requestBody"].update(required=False))
    pair(
        "request-media-type-removed",
        lambda d: _operation(d)["requestBody"]["content"].update(
            {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
        ),
    )(lambda d: _operation(d)["requestBody"]["content"].pop("application/x-www-form-urlencoded"))
    pair("request-media-type-added")(
        lambda d: _operation(d)["requestBody"]["content"].update(
            {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
        )
    )
    pair("response-success-status-removed")(
        lambda d: _operation(d)["responses"].update({"200": _operation(d)["responses"].pop("201")})
    )
    pair("response-success-status-added")(
        lambda d: _operation(d)["responses"].update({"202": {"description": "accepted"}})
    )
    pair("response-error-status-removed")(lambda d: _operation(d)["responses"].pop("400"))
    pair("response-error-status-added")(
        lambda d: _operation(d)["responses"].update({"409": {"description": "conflict"}})
    )
    pair("response-media-type-removed")(
        lambda d: _operation(d)["responses"]["201"].update(
            content={"application/xml": {"schema": STRING}}
        )
    )
    pair("response-media-type-added")(
        lambda d: _operation(d)["responses"]["201"]["content"].update(
            {"application/xml": {"schema": STRING}}
        )
    )
    pair("response-header-removed")(lambda d: _operation(d)["responses"]["201"].pop("headers"))
    pair("response-header-added")(
        lambda d: _operation(d)["responses"]["201"]["headers"].update(
            {"Location": {"schema": STRING}}
        )
    )
    pair(
        "response-header-became-optional",
        lambda d: _operation(d)["responses"]["201"]["headers"]["X-Thing"].update(required=True),
    )(lambda d: _operation(d)["responses"]["201"]["headers"]["X-Thing"].update(required=False))
    pair("response-header-became-required")(
        lambda d: _operation(d)["responses"]["201"]["headers"]["X-Thing"].update(required=True)
    )
    # A breaking change (the query parameter made required) under the same version.
    pair("version-not-bumped")(lambda d: _operation(d)["parameters"][1].update(required=True))
    return pairs


STRUCTURE_PAIRS = _structure_pairs()


def _value_cases() -> list[Any]:
    cases = []
    for direction, subjects in VALUE_SUBJECTS.items():
        for subject in subjects:
            context = f"{direction}-{'header' if subject == 'header' else subject}"
            for kind, (base, new) in VALUE_PAIRS.items():
                rule = f"{direction}-{subject}-{kind}"
                cases.append(
                    pytest.param(
                        rule, api(base, subject=context), api(new, subject=context), id=rule
                    )
                )
    return cases


def _object_cases() -> list[Any]:
    cases = []
    for direction in VALUE_SUBJECTS:
        for kind, (base, new) in OBJECT_PAIRS.items():
            rule = f"{direction}-property-{kind}"
            context = f"{direction}-property"
            cases.append(
                pytest.param(rule, api(base, subject=context), api(new, subject=context), id=rule)
            )
    return cases


def _structure_cases() -> list[Any]:
    return [pytest.param(rule, base, new, id=rule) for rule, (base, new) in STRUCTURE_PAIRS.items()]


def run_diff(
    tmp_path: Path, base: dict[str, Any], new: dict[str, Any], **options: Any
) -> list[Finding]:
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "new.yaml").write_text(json.dumps(new, indent=1))  # JSON is YAML
    report = diff(
        Source.parse(str(tmp_path / "base.json")),
        Source.parse(str(tmp_path / "new.yaml")),
        **options,
    )
    return report.findings


TESTED = (
    {case.values[0] for case in _value_cases()}
    | {case.values[0] for case in _object_cases()}
    | set(STRUCTURE_PAIRS)
    | {"baseline-entry-fixed"}  # tested with the command line (test_contract_diff.py)
)


def test_every_rule_in_the_catalogue_has_a_pair():
    assert set(RULES) - TESTED == set()
    assert TESTED - set(RULES) == set()
    assert len(RULES) >= 40


@pytest.mark.parametrize(
    ("rule", "base", "new"), _value_cases() + _object_cases() + _structure_cases()
)
def test_the_pair_gives_its_rule_where_it_happened(tmp_path, rule, base, new):
    findings = run_diff(tmp_path, base, new)
    found = [finding for finding in findings if finding.rule == rule]
    assert found, f"{rule} not found; got {[f.rule for f in findings]}"
    finding = found[0]
    if finding.level is not Level.ERROR:  # a compatible pair breaks nothing beside it
        assert not [f.rule for f in findings if f.level is Level.ERROR and f.rule != rule]
    # Placed in the document that has what changed: NEW, or BASE for what NEW lost.
    document = base if finding.side == "base" else new
    assert Path(finding.file).name == ("base.json" if finding.side == "base" else "new.yaml")
    assert finding.line is not None and finding.line >= 1
    assert _exists(document, finding.location), finding.location


def _exists(document: Any, pointer: str) -> bool:
    node = document
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return False
    return True


@pytest.mark.parametrize(
    ("rule", "base", "new"),
    [case for case in _value_cases() + _object_cases() if case.values[0].startswith("request-")],
)
def test_a_value_change_names_the_operation_and_the_property(tmp_path, rule, base, new):
    finding = next(f for f in run_diff(tmp_path, base, new) if f.rule == rule)
    assert finding.operation is not None
    assert finding.operation.label == "makeThing (POST /things/{id})"
    assert "query parameter 'q'" in finding.message or "property 'p" in finding.message


# The levels the issue names, written out here rather than derived as rules.py derives them.
NAMED_LEVELS = {
    Level.ERROR: [
        "path-removed",
        "operation-removed",
        "request-parameter-added-required",
        "request-property-added-required",
        "request-parameter-became-required",
        "request-property-became-required",
        "request-property-type-changed",
        "request-parameter-format-added",
        "request-property-enum-value-removed",
        "request-parameter-max-decreased",
        "request-parameter-min-increased",
        "request-property-pattern-added",
        "request-property-max-length-decreased",
        "request-property-max-items-decreased",
        "request-property-max-properties-decreased",
        "request-property-additional-properties-narrowed",
        "operation-security-narrowed",
        "response-property-removed",
        "response-property-became-optional",
        "response-property-became-nullable",
        "response-property-type-changed",
        "response-property-format-changed",
        "response-success-status-removed",
        "response-media-type-removed",
        "version-not-bumped",
    ],
    Level.WARNING: [
        "response-property-enum-value-added",
        "request-parameter-removed",
        "request-property-removed",
        "request-parameter-default-changed",
        "operation-deprecated-without-sunset",
        "baseline-entry-fixed",
    ],
    Level.INFO: [
        "path-added",
        "operation-added",
        "request-parameter-added",
        "request-property-added",
        "request-parameter-max-increased",
        "request-property-became-nullable",
        "response-property-enum-value-removed",
        "response-property-added",
        "response-error-status-added",
    ],
}


@pytest.mark.parametrize(
    ("rule", "level"), [(rule, level) for level, rules in NAMED_LEVELS.items() for rule in rules]
)
def test_levels_follow_the_direction_of_travel(rule, level):
    assert RULES[rule].level is level


def test_every_kind_has_its_pair():
    assert set(VALUE_KINDS) == set(VALUE_PAIRS) and set(OBJECT_KINDS) == set(OBJECT_PAIRS)
