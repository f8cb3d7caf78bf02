"""Comparing two OpenAPI documents operation by operation.

Operations are matched by method and path template (parameter names do not matter: `/a/{id}`
and `/a/{token}` are one path); parameters by where they travel and their name (path parameters
by position). Every schema a request or a response carries goes through ``SchemaComparer``, so a
change to a shared component is reported for each operation it reaches.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from conformance.changes.documents import Documents, Node
from conformance.changes.rules import RULES
from conformance.changes.schemas import Change, Direction, SchemaComparer, Side, path_text

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_TEMPLATE_PARAMETER = re.compile(r"\{[^}/]*\}")
_STYLE_DEFAULTS = {"query": "form", "cookie": "form", "path": "simple", "header": "simple"}


@dataclass(frozen=True)
class Operation:
    id: str | None
    method: str  # upper case
    path: str

    @property
    def label(self) -> str:
        where = f"{self.method} {self.path}"
        return f"{self.id} ({where})" if self.id else where


@dataclass(frozen=True)
class Raw:
    """A finding before it is placed in a file: its rule, the operation, where it points."""

    rule: str
    operation: Operation | None
    side: Side
    uri: str
    pointer: str
    message: str
    # Where in NEW the change belongs (for what BASE lost: the NEW element that lost it).
    anchor: tuple[str, str] | None = None


@dataclass(frozen=True)
class OperationNode:
    """An operation with the nodes it is read from: its own and its path item's."""

    operation: Operation
    node: Node
    path_item: Node


def template_key(path: str) -> str:
    return _TEMPLATE_PARAMETER.sub("{}", path.rstrip("/") or "/")


def operations(documents: Documents) -> dict[tuple[str, str], OperationNode]:
    """Each operation by (METHOD, path template with parameters unnamed)."""
    found: dict[tuple[str, str], OperationNode] = {}
    paths = documents.root.get("paths")
    for path, item in paths.items() if paths is not None else ():
        if path.startswith("x-"):  # an extension, not a path
            continue
        for method in METHODS:
            node = item.get(method)
            if node is None or not isinstance(node.value, dict):
                continue
            operation_id = node.value.get("operationId")
            operation = Operation(str(operation_id) if operation_id else None, method.upper(), path)
            found[(method.upper(), template_key(path))] = OperationNode(operation, node, item)
    return found


def server_prefixes(documents: Documents) -> list[str]:
    servers = documents.root.value.get("servers") or [{"url": "/"}]
    return [urlsplit(str(server.get("url", "/"))).path.rstrip("/") for server in servers]


class DocumentComparer:
    """Everything BASE promised that NEW changed, with NEW's nodes for where."""

    def __init__(self, base: Documents, new: Documents) -> None:
        self.base, self.new = base, new
        self.schemas = SchemaComparer()

    def structure(
        self,
        base_ops: dict[tuple[str, str], OperationNode],
        new_ops: dict[tuple[str, str], OperationNode],
    ) -> Iterator[Raw]:
        """Paths and operations that appeared or went away."""
        new_paths = {key for _, key in new_ops}
        base_paths = {key for _, key in base_ops}
        for key, old in base_ops.items():
            if key not in new_ops:
                rule = "path-removed" if key[1] not in new_paths else "operation-removed"
                paths = (self.new.root.uri, "/paths")
                message = _message("", rule, old.operation.label)
                yield Raw(rule, old.operation, "base", *old.node.location, message, paths)
        for key, added in new_ops.items():
            if key not in base_ops:
                rule = "path-added" if key[1] not in base_paths else "operation-added"
                yield Raw(rule, added.operation, "new", *added.node.location, added.operation.label)

    def matched(self, pairs: Iterable[tuple[OperationNode, OperationNode]]) -> Iterator[Raw]:
        for old, now in pairs:
            yield from self.operation(old, now)

    def operation(self, old: OperationNode, now: OperationNode) -> Iterator[Raw]:
        op = now.operation
        if old.operation.id != op.id and old.operation.id and op.id:
            yield self._raw(
                "operation-id-changed",
                op,
                now.node,
                "operationId",
                f"{old.operation.id} -> {op.id}",
            )
        if (
            now.node.value.get("deprecated") is True
            and old.node.value.get("deprecated") is not True
        ):
            sunset = now.node.value.get("x-sunset")
            rule = "operation-deprecated" if sunset else "operation-deprecated-without-sunset"
            yield self._raw(rule, op, now.node, "deprecated", f"sunset {sunset}" if sunset else "")
        yield from self._security(old, now)
        yield from self._parameters(old, now)
        yield from self._request_body(old, now)
        yield from self._responses(old, now)

    def _raw(self, rule: str, op: Operation, node: Node, keyword: str, detail: str) -> Raw:
        pointer = f"{node.pointer}/{keyword}" if keyword else node.pointer
        return Raw(rule, op, "new", node.uri, pointer, _message("", rule, detail))

    def _schema_changes(
        self,
        op: Operation,
        base: Node | None,
        new: Node | None,
        direction: Direction,
        subject: str,
        where: str,
    ) -> Iterator[Raw]:
        if base is None or new is None:
            return
        for change in self.schemas.compare(base, new, direction):
            yield _from_change(change, op, direction, subject, where)

    # --- security -------------------------------------------------------------------------
    def _security(self, old: OperationNode, now: OperationNode) -> Iterator[Raw]:
        was = _alternatives(self.base, old.node)
        will = _alternatives(self.new, now.node)
        if was == will:
            return
        holder = now.node if "security" in now.node.value else self.new.root
        # An x-mock-assumption about how clients authenticate stands on the scheme NEW uses.
        anchor = _scheme_node(self.new, now.node) or now.node
        op = now.operation
        lost = [alt for alt in was if not _satisfied(alt, will)]
        gained = [alt for alt in will if not _satisfied(alt, was)]
        for rule, alternatives, said in (
            ("operation-security-narrowed", lost, "no longer accepted"),
            ("operation-security-widened", gained, "now accepted"),
        ):
            if alternatives:
                detail = f"{said}: " + "; ".join(_alternative_text(alt) for alt in alternatives)
                raw = self._raw(rule, op, holder, "security", detail)
                yield dataclasses.replace(raw, anchor=anchor.location)

    # --- parameters -----------------------------------------------------------------------
    def _parameters(self, old: OperationNode, now: OperationNode) -> Iterator[Raw]:
        was, will = _parameters(old), _parameters(now)
        op = now.operation
        for key, parameter in was.items():
            if key not in will:
                yield Raw(
                    "request-parameter-removed",
                    op,
                    "base",
                    *parameter.location,
                    _message(_parameter_text(parameter), "request-parameter-removed", ""),
                    now.node.location,
                )
        for key, parameter in will.items():
            where = _parameter_text(parameter)
            required = parameter.value.get("required") is True
            if key not in was:
                rule = "request-parameter-added-required" if required else "request-parameter-added"
                yield Raw(rule, op, "new", *parameter.location, _message(where, rule, ""))
                continue
            before = was[key]
            yield from _required_changed(op, "request-parameter", before, parameter, where)
            if _style(before) != _style(parameter):
                rule = "request-parameter-style-changed"
                detail = f"{_style(before)} -> {_style(parameter)}"
                yield Raw(rule, op, "new", *parameter.location, _message(where, rule, detail))
            yield from self._schema_changes(
                op,
                _parameter_schema(before),
                _parameter_schema(parameter),
                "request",
                "parameter",
                where,
            )

    # --- request body ---------------------------------------------------------------------
    def _request_body(self, old: OperationNode, now: OperationNode) -> Iterator[Raw]:
        was, will = old.node.get("requestBody"), now.node.get("requestBody")
        op = now.operation
        if was is None and will is None:
            return
        if will is None:
            assert was is not None
            rule = "request-body-removed"
            message = _message("request body", rule, "")
            yield Raw(rule, op, "base", *was.location, message, now.node.location)
            return
        required = will.value.get("required") is True
        if was is None:
            rule = "request-body-added-required" if required else "request-body-added"
            yield Raw(rule, op, "new", *will.location, _message("request body", rule, ""))
            return
        yield from _required_changed(op, "request-body", was, will, "request body")
        yield from self._content(op, was, will, "request", "request body")

    def _content(
        self, op: Operation, was: Node, will: Node, direction: Direction, where: str
    ) -> Iterator[Raw]:
        before, after = _media_types(was), _media_types(will)
        for media_type, node in before.items():
            if media_type not in after:
                rule = f"{direction}-media-type-removed"
                message = _message(where, rule, media_type)
                yield Raw(rule, op, "base", *node.location, message, will.location)
        for media_type, node in after.items():
            if media_type not in before:
                rule = f"{direction}-media-type-added"
                yield Raw(rule, op, "new", *node.location, _message(where, rule, media_type))
                continue
            named = where if len(after) == 1 else f"{where} ({media_type})"
            yield from self._schema_changes(
                op,
                before[media_type].get("schema"),
                node.get("schema"),
                direction,
                "property",
                named,
            )

    # --- responses ------------------------------------------------------------------------
    def _responses(self, old: OperationNode, now: OperationNode) -> Iterator[Raw]:
        was, will = _responses(old.node), _responses(now.node)
        op = now.operation
        for status, response in was.items():
            if status not in will:
                rule = f"response-{_status_kind(status)}-status-removed"
                message = _message("", rule, status)
                yield Raw(rule, op, "base", *response.location, message, now.node.location)
        for status, response in will.items():
            if status not in was:
                rule = f"response-{_status_kind(status)}-status-added"
                yield Raw(rule, op, "new", *response.location, _message("", rule, status))
                continue
            where = f"response {status}"
            yield from self._headers(op, was[status], response, where)
            yield from self._content(op, was[status], response, "response", f"{where} body")

    def _headers(self, op: Operation, was: Node, will: Node, where: str) -> Iterator[Raw]:
        before, after = _headers(was), _headers(will)
        for name, header in before.items():
            if name not in after:
                rule = "response-header-removed"
                text = f"{where} header '{name}'"
                message = _message(text, rule, "")
                yield Raw(rule, op, "base", *header.location, message, will.location)
        for name, header in after.items():
            text = f"{where} header '{name}'"
            if name not in before:
                rule = "response-header-added"
                yield Raw(rule, op, "new", *header.location, _message(text, rule, ""))
                continue
            yield from _required_changed(op, "response-header", before[name], header, text)
            yield from self._schema_changes(
                op,
                _parameter_schema(before[name]),
                _parameter_schema(header),
                "response",
                "header",
                text,
            )


def _required_changed(
    op: Operation, subject: str, was: Node, now: Node, where: str
) -> Iterator[Raw]:
    """``<subject>-became-required`` or ``-optional``, when ``required`` changed."""
    required = now.value.get("required") is True
    if required != (was.value.get("required") is True):
        rule = f"{subject}-became-{'required' if required else 'optional'}"
        yield Raw(rule, op, "new", now.uri, f"{now.pointer}/required", _message(where, rule, ""))


def unique(raws: Iterable[Raw]) -> list[Raw]:
    """Each finding once (a parameter listed on both the path and the operation, a component
    reached twice by one operation), in the order found."""
    seen: set[tuple[str, Operation | None, str, str]] = set()
    kept = []
    for raw in raws:
        identity = (raw.rule, raw.operation, raw.pointer, raw.message)
        if identity not in seen:
            seen.add(identity)
            kept.append(raw)
    return kept


def _message(where: str, rule: str, detail: str) -> str:
    text = f"{where}: {RULES[rule].summary}" if where else RULES[rule].summary
    return f"{text}: {detail}" if detail else text


def _from_change(
    change: Change, op: Operation, direction: Direction, subject: str, where: str
) -> Raw:
    if change.kind.startswith("property-"):
        rule = f"{direction}-{change.kind}"
    else:
        rule = f"{direction}-{subject if not change.path else 'property'}-{change.kind}"
    text = f"{where} property '{path_text(change.path)}'" if change.path else where
    message = _message(text, rule, change.detail)
    return Raw(rule, op, change.side, change.uri, change.pointer, message, change.anchor)


def _parameters(op: OperationNode) -> dict[tuple[str, str], Node]:
    """The operation's parameters with its path's, keyed by (in, name); path parameters by
    their position in the template, so renaming one is no change."""
    found: dict[tuple[str, str], Node] = {}
    positions = {
        name.strip("{}"): str(index)
        for index, name in enumerate(_TEMPLATE_PARAMETER.findall(op.operation.path))
    }
    for holder in (op.path_item, op.node):
        listed = holder.get("parameters")
        for parameter in listed.elements() if listed is not None else ():
            where, name = str(parameter.value.get("in")), str(parameter.value.get("name"))
            key = positions.get(name, name) if where == "path" else name
            found[(where, key if where != "header" else key.lower())] = parameter
    return found


def _parameter_text(parameter: Node) -> str:
    return f"{parameter.value.get('in')} parameter '{parameter.value.get('name')}'"


def _parameter_schema(parameter: Node) -> Node | None:
    schema = parameter.get("schema")
    if schema is not None:
        return schema
    content = parameter.get("content")
    for _, media in content.items() if content is not None else ():
        return media.get("schema")
    return None


def _style(parameter: Node) -> str:
    where = str(parameter.value.get("in"))
    style = parameter.value.get("style", _STYLE_DEFAULTS.get(where, "simple"))
    explode = parameter.value.get("explode", style == "form")
    return f"{style}{', explode' if explode else ''}"


def _media_types(holder: Node) -> dict[str, Node]:
    content = holder.get("content")
    return {
        media_type.split(";")[0].strip().lower(): node
        for media_type, node in (content.items() if content is not None else ())
    }


def _responses(op: Node) -> dict[str, Node]:
    responses = op.get("responses")
    return {
        str(status).upper(): node
        for status, node in (responses.items() if responses is not None else ())
        if not str(status).startswith("x-")  # an extension, not a status
    }


def _status_kind(status: str) -> str:
    return "success" if status.startswith("2") else "error"


def _headers(response: Node) -> dict[str, Node]:
    headers = response.get("headers")
    return {
        name.lower(): node
        for name, node in (headers.items() if headers is not None else ())
        if name.lower() != "content-type"  # OpenAPI says it is ignored here
    }


# A security alternative: the schemes (by what they are, not their names) and scopes asked for.
_Alternative = frozenset[tuple[str, frozenset[str]]]


def _security_schemes(documents: Documents) -> Node | None:
    components = documents.root.get("components")
    return components.get("securitySchemes") if components is not None else None


def _requirements(documents: Documents, op: Node) -> Any:
    return op.value.get("security", documents.root.value.get("security"))


def _scheme_node(documents: Documents, op: Node) -> Node | None:
    defined = _security_schemes(documents)
    for requirement in _requirements(documents, op) or ():
        for name in requirement or {}:
            scheme = defined.get(name) if defined is not None else None
            if scheme is not None:
                return scheme
    return None


def _alternatives(documents: Documents, op: Node) -> frozenset[_Alternative]:
    """The ways to authenticate; an alternative naming a scheme the document never defines is
    left out (no client can follow it: Marqeta's document names an undefined `zionToken`)."""
    listed = _requirements(documents, op)
    if not listed:
        return frozenset({frozenset()})
    defined = _security_schemes(documents)
    alternatives = set()
    for requirement in listed:
        alternative = set()
        for name, scopes in (requirement or {}).items():
            scheme = defined.get(name) if defined is not None else None
            if scheme is None or not isinstance(scheme.value, dict):
                break
            alternative.add((_scheme_identity(scheme), frozenset(scopes or ())))
        else:
            alternatives.add(frozenset(alternative))
    return frozenset(alternatives)


def _scheme_identity(scheme: Node) -> str:
    facts = {
        key: scheme.value[key] for key in ("type", "scheme", "in", "name") if key in scheme.value
    }
    kind = str(facts.pop("type", "?"))
    if isinstance(facts.get("scheme"), str):
        facts["scheme"] = facts["scheme"].lower()
    return f"{kind} {json.dumps(facts, sort_keys=True)}" if facts else kind


def _satisfied(alternative: _Alternative, others: frozenset[_Alternative]) -> bool:
    """Whether a client that satisfies ``alternative`` satisfies one of ``others``."""

    def within(needed: _Alternative) -> bool:
        return all(
            any(scheme == had and scopes <= had_scopes for had, had_scopes in alternative)
            for scheme, scopes in needed
        )

    return any(within(other) for other in others)


def _alternative_text(alternative: _Alternative) -> str:
    if not alternative:
        return "no credentials"
    return " + ".join(sorted(scheme for scheme, _ in alternative))
