"""Fixtures files (``--seed FILE`` and the built-in demo data): read and validate (each vendor's
section is created by its ``VendorState.seed``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator, FormatChecker

from mock_server.registry import control_contract
from mock_server.spec import Contract, schema

DEMO_FIXTURES = Path(__file__).with_name("demo.yaml")


class FixturesError(ValueError):
    """A fixtures file that cannot be read or does not match the FixturesFile schema."""


def read_fixtures(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON fixtures file and check it against the control contract."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise FixturesError(f"{path}: cannot read fixtures: {exc}") from exc
    if data is None:  # an empty file is more likely a mistake than a wish for no fixtures
        raise FixturesError(f"{path}: the fixtures file is empty")
    contract = control_contract()
    validator = Draft4Validator(
        _with_components(contract, "FixturesFile"), format_checker=FormatChecker()
    )
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: e.path)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise FixturesError(f"{path}: {where}: {error.message}")
    checked: dict[str, Any] = data
    return checked


def _with_components(contract: Contract, schema_name: str) -> dict[str, Any]:
    """A standalone JSON schema for one component, its local references still resolvable."""
    return {**schema(contract, schema_name), "components": contract["components"]}
