"""Start data files (``--start-data FILE``, formerly ``--seed``, and the built-in demo data):
read and validate (each vendor's section is created by its ``VendorState.seed``)."""

from __future__ import annotations

import json
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator, FormatChecker

from mock_server.registry import control_contract
from mock_server.spec import Contract, schema

DEMO_FIXTURES = Path(__file__).with_name("demo.yaml")


class FixturesError(ValueError):
    """A fixtures file that cannot be read or does not match the FixturesFile schema."""


# Start data is read before the mock serves: a file must not be able to stall or crash start-up.
MAX_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 32  # a fixtures file nests about 7 deep
MAX_NODES = 2_000_000  # values once aliases are expanded (a 1 MiB file holds ~150,000)


# The two files users confuse, each named in the other's errors.
OTHER_FORMAT = (
    " - this is the mock's start data (the FixturesFile schema of /__mock__/openapi.json);"
    " the conformance suite's setup data (refund-conformance --setup-data) is another format"
)


def read_fixtures(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON fixtures file and check it against the control contract."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise FixturesError(
                f"{path}: larger than {MAX_BYTES // 2**20} MiB, the start data limit"
            )
        text = path.read_text(encoding="utf-8")
        data = (
            json.loads(text, object_pairs_hook=_unique_keys)
            if path.suffix == ".json"
            else yaml.load(text, Loader=_StrictLoader)
        )
    except RecursionError:
        raise FixturesError(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    except _Refused as exc:
        raise FixturesError(f"{path}: {exc}") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())  # one line
        raise FixturesError(f"{path}: cannot read fixtures: {reason}") from None
    if data is None:  # an empty file is more likely a mistake than a wish for no fixtures
        raise FixturesError(f"{path}: the fixtures file is empty")
    _check_size(path, data)
    contract = control_contract()
    validator = Draft4Validator(
        _with_components(contract, "FixturesFile"), format_checker=FormatChecker()
    )
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: e.path)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise FixturesError(f"{path}: {where}: {error.message}{OTHER_FORMAT}")
    checked: dict[str, Any] = data
    return checked


class _Refused(ValueError):
    """Start data refused while it was read; its message is one line."""


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (JSON bodies refuse it
    too; last-wins would drop data without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # <<: *anchor brings keys that the mapping's own may override
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                line = key_node.start_mark.line + 1
                raise _Refused(f"line {line}: the key {key!r} is given twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Refused(f"the key {key!r} is given twice")
        found[key] = value
    return found


def _check_size(path: Path, data: Any) -> None:
    """Refuse data nested too deep, or too large once YAML's aliases are expanded (a file of a
    few lines can name a billion values)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while pending:
        value, depth = pending.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise FixturesError(f"{path}: nested more than {MAX_DEPTH} levels deep")
        if nodes > MAX_NODES:
            raise FixturesError(
                f"{path}: more than {MAX_NODES:,} values once its aliases are expanded"
            )
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


def _with_components(contract: Contract, schema_name: str) -> dict[str, Any]:
    """A standalone JSON schema for one component, its local references still resolvable."""
    return {**schema(contract, schema_name), "components": contract["components"]}
