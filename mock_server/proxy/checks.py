"""Whether the target's answer keeps to the contract, under the names the conformance suite's
checks have (Schemathesis's): its status documented for the operation, its media type the one
documented, its body valid against the schema documented for that status, its documented
required headers present."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from connexion.json_schema import Draft4ResponseValidator, resolve_refs
from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from mock_server.runtime import operations
from mock_server.spec import Contract

STATUS = "status_code_conformance"
CONTENT_TYPE = "content_type_conformance"
SCHEMA = "response_schema_conformance"
HEADERS = "response_headers_conformance"
REQUEST = "request_validation"  # the request direction: the mock's own request validation


@dataclass(frozen=True)
class Violation:
    direction: str  # "request" or "response"
    location: str  # where: the status, a header, a point in the body
    rule: str
    message: str

    def json(self) -> dict[str, str]:
        return {
            "direction": self.direction,
            "location": self.location,
            "rule": self.rule,
            "message": self.message,
        }


class ResponseChecks:
    def __init__(self, contract: Contract) -> None:
        # Every $ref inlined, as Connexion holds a contract: its validators take the schemas so.
        self.operations = operations(resolve_refs(contract))
        self._validators: dict[tuple[str, str, str], Draft4Validator] = {}
        self._compiled: dict[tuple[str, str, str], jsonschema_rs.Draft4Validator | None] = {}

    def violations(
        self, operation_id: str, status: int, headers: dict[str, str], body: bytes
    ) -> list[Violation]:
        """How the answer ``status``/``headers``/``body`` to ``operation_id`` breaks the
        contract (nothing when it keeps to it)."""
        responses = self.operations[operation_id].get("responses", {})
        documented = _documented(responses, status)
        if documented is None:
            listed = ", ".join(responses)
            return [
                Violation(
                    "response",
                    "status",
                    STATUS,
                    f"{operation_id} does not document status {status} (documented: {listed})",
                )
            ]
        response = responses[documented]
        found = [*self._headers(response, headers)]
        media = response.get("content") or {}
        if not media or not body:
            return found
        given = headers.get("content-type", "").split(";")[0].strip().lower()
        named = next((name for name in media if name.lower() == given), None)
        if named is None:
            found.append(
                Violation(
                    "response",
                    "header Content-Type",
                    CONTENT_TYPE,
                    f"{given or 'no media type'} is not the documented {', '.join(media)}",
                )
            )
        elif media[named].get("schema") is not None and given.endswith("json"):
            found += self._schema(operation_id, documented, named, body)
        return found

    def _headers(self, response: dict[str, Any], headers: dict[str, str]) -> list[Violation]:
        return [
            Violation(
                "response", f"header {name}", HEADERS, f"the documented header {name} is missing"
            )
            for name, header in (response.get("headers") or {}).items()
            if header.get("required") and name.lower() not in headers
        ]

    def _schema(self, operation_id: str, status: str, media: str, body: bytes) -> list[Violation]:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:  # not JSON, or nested past any parser
            return [Violation("response", "body", SCHEMA, f"the body is not JSON: {exc}")]
        compiled = self._compiled_validator(operation_id, status, media)
        if compiled is not None and compiled.is_valid(document):
            return []  # the common case, a hundred times faster than the validator below
        error = best_match(self._validator(operation_id, status, media).iter_errors(document))
        if error is None:
            return []
        where = "body" + "".join(f"[{part!r}]" for part in error.absolute_path)
        return [Violation("response", where, SCHEMA, error.message)]

    def _validator(self, operation_id: str, status: str, media: str) -> Draft4Validator:
        """The mock's own response validator (Connexion's: OpenAPI's nullable, formats) for
        the schema ``operation_id`` documents for ``status`` in ``media`` (made once)."""
        made = self._validators.get((operation_id, status, media))
        if made is None:
            content = self.operations[operation_id]["responses"][status]["content"]
            made = self._validators[(operation_id, status, media)] = Draft4ResponseValidator(
                content[media]["schema"], format_checker=Draft4Validator.FORMAT_CHECKER
            )
        return made

    def _compiled_validator(
        self, operation_id: str, status: str, media: str
    ) -> jsonschema_rs.Draft4Validator | None:
        """A compiled validator (jsonschema-rs) that accepts no more than the mock's own: only
        its "valid" is taken, and anything else is judged (and worded) by Connexion's. None
        where the schema holds what only Connexion's knows (``writeOnly``)."""
        key = (operation_id, status, media)
        if key not in self._compiled:
            schema = self.operations[operation_id]["responses"][status]["content"][media]["schema"]
            self._compiled[key] = (
                None
                if _names_any(schema, {"writeOnly", "x-writeOnly"})
                else jsonschema_rs.Draft4Validator(
                    _null_where_nullable(schema), validate_formats=True
                )
            )
        return self._compiled[key]


def _null_where_nullable(schema: Any) -> Any:
    """``schema`` with OpenAPI 3.0's ``nullable: true`` said in JSON Schema, as Connexion's
    validator reads it: null is one more type, and one more value of an enum."""
    if isinstance(schema, list):
        return [_null_where_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    said = {key: _null_where_nullable(value) for key, value in schema.items()}
    if said.get("nullable") is True or said.get("x-nullable") is True:
        if isinstance(said.get("type"), str):
            said["type"] = [said["type"], "null"]
        elif isinstance(said.get("type"), list):
            said["type"] = [*said["type"], "null"]
        if isinstance(said.get("enum"), list):
            said["enum"] = [*said["enum"], None]
    return said


def _names_any(schema: Any, keywords: set[str]) -> bool:
    if isinstance(schema, dict):
        return bool(keywords & schema.keys()) or any(
            _names_any(value, keywords) for value in schema.values()
        )
    if isinstance(schema, list):
        return any(_names_any(item, keywords) for item in schema)
    return False


def _documented(responses: dict[str, Any], status: int) -> str | None:
    """The key of ``responses`` that documents ``status``: its code, its range, or default. A
    success status only by its own code or range, as the suite holds it: ``default`` describes
    an operation's errors (a 200 where 201 is listed is a wrong status)."""
    for key in (str(status), f"{str(status)[0]}XX"):
        if key in responses:
            return key
    return "default" if "default" in responses and not 200 <= status < 300 else None


HEADER_LIMIT = 8 * 1024  # bytes of X-Mock-Contract-Violations; beyond, a ``truncated`` entry


def header_value(violations: list[Violation]) -> str:
    """``violations`` as X-Mock-Contract-Violations: a JSON array of at most ``HEADER_LIMIT``
    bytes, its last entry ``{"truncated": N}`` when N more did not fit."""
    kept: list[dict[str, Any]] = []
    for number, violation in enumerate(violations):
        entry = violation.json()
        room = HEADER_LIMIT - len(json.dumps({"truncated": len(violations)}))
        if len(json.dumps([*kept, entry], ensure_ascii=True)) > room:
            kept.append({"truncated": len(violations) - number})
            break
        kept.append(entry)
    return json.dumps(kept, ensure_ascii=True)  # a header holds ASCII only
