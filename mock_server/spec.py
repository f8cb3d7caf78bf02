"""Loading the contracts. Code that needs an enum, limit or rule reads it from here."""

from __future__ import annotations

import copy
import functools
import importlib.resources
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# The repository's openapi/ directory, installed as the package mock_server.contracts.
CONTRACTS_DIR = Path(str(importlib.resources.files("mock_server.contracts")))

Contract = dict[str, Any]
CONTROL_CONTRACT = "mock-control.yaml"  # the mock's own API, beside the vendors'


# PyYAML's libyaml loader reads the same documents ten times faster (0.01 s a contract, not
# 0.12: every start of the mock and of a conformance run reads them); the Python one otherwise.
SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = (
    yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
)


@functools.cache
def _read(filename: str) -> Contract:
    with (CONTRACTS_DIR / filename).open(encoding="utf-8") as handle:
        contract: Contract = yaml.load(handle, Loader=SAFE_LOADER)
    return contract


def load_contract(filename: str) -> Contract:
    """The contract ``<filename>`` (from ``openapi/``), references into other files inlined.

    Local references (``#/components/...``) stay as they are. References such as
    ``marqeta-credit.yaml#/components/schemas/Token`` are replaced by what they point to, so the
    control API reuses the vendor's enums and limits instead of retyping them, and Connexion (which
    cannot follow file references when it checks defaults) gets a self-contained document.
    """
    inlined: Contract = _inline_file_refs(copy.deepcopy(_read(filename)))
    return inlined


def _inline_file_refs(node: Any, current: str | None = None) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and (not ref.startswith("#") or current is not None):
            filename, _, pointer = ref.partition("#")
            filename = filename or current or ""
            target = _pointer(_read(filename), pointer)
            return _inline_file_refs(copy.deepcopy(target), filename)
        return {key: _inline_file_refs(value, current) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_file_refs(item, current) for item in node]
    return node


def _pointer(document: Any, pointer: str) -> Any:
    for part in pointer.strip("/").split("/"):
        document = document[part.replace("~1", "/").replace("~0", "~")]
    return document


def compose_control(parts: Mapping[str, str]) -> Contract:
    """The control contract with each vendor's part merged in (``parts``: vendor name -> its
    part's file), file references inlined: what the mock serves under ``/__mock__``.

    A part's paths, schemas and error codes join the control contract's (a name both define is
    a mistake, refused here rather than one silently winning); each schema the control contract
    marks ``x-mock-composed`` takes the part's schema for it, as that marker says. References
    from a part to the control contract become local ones, since the two are now one document.
    """
    composed = copy.deepcopy(_read(CONTROL_CONTRACT))
    schemas = composed["components"]["schemas"]
    for vendor_name, filename in parts.items():
        part = _localised(copy.deepcopy(_read(filename)), CONTROL_CONTRACT)
        _join(composed["paths"], part.get("paths", {}), filename)
        _join(schemas, part.get("components", {}).get("schemas", {}), filename)
        _join(composed["x-mock-error-codes"], part.get("x-mock-error-codes", {}), filename)
        for target, source in part["x-mock-control-part"].items():
            _fill(schemas[target], vendor_name, source, schemas[source])
    inlined: Contract = _inline_file_refs(composed)
    return inlined


def _localised(node: Any, filename: str) -> Any:
    """``node`` with references into ``filename`` made local (``file#/x`` -> ``#/x``)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(filename + "#"):
            return {**node, "$ref": ref.removeprefix(filename)}
        return {key: _localised(value, filename) for key, value in node.items()}
    if isinstance(node, list):
        return [_localised(item, filename) for item in node]
    return node


def _join(into: dict[str, Any], more: Mapping[str, Any], filename: str) -> None:
    clashes = sorted(name for name in more if name in into and into[name] != more[name])
    if clashes:
        raise ValueError(f"{filename} defines again what the control contract has: {clashes}")
    into.update(more)


def _fill(target: dict[str, Any], vendor_name: str, source: str, part: dict[str, Any]) -> None:
    how = target.get("x-mock-composed")
    if how == "merge":
        _join(target["properties"], part["properties"], source)
        target["required"] = [*target.get("required", []), *part.get("required", [])]
    elif how in ("section", "required section"):
        target["properties"][vendor_name] = {"$ref": f"#/components/schemas/{source}"}
        if how == "required section":
            target["required"] = [*target.get("required", []), vendor_name]
    else:
        raise ValueError(f"{source} fills a schema the control contract does not compose ({how!r})")


def schema(contract: Contract, name: str) -> dict[str, Any]:
    found: dict[str, Any] = contract["components"]["schemas"][name]
    return found


def defaults(filename: str, schema_name: str) -> dict[str, Any]:
    """The ``default`` of each property of a contract's schema that has one. Defaults are
    literals, so the file as read serves: no copy, no references to inline (this runs for
    every account the control API opens)."""
    properties = schema(_read(filename), schema_name)["properties"]
    return {name: prop["default"] for name, prop in properties.items() if "default" in prop}


def resolved(contract: Contract, node: dict[str, Any]) -> dict[str, Any]:
    """``node``, or what its local ``$ref`` (``#/components/...``) points to."""
    while "$ref" in node:
        node = _pointer(contract, node["$ref"].removeprefix("#"))
    return node
