"""Where the suite's setup data comes from: the mock's control API, or a fixtures file.

Behaviour tests need accounts with a credit (negative) balance and debits to refund. Against
this kit's mock the suite makes fresh ones through ``/__mock__``; against anything else it uses
the ones a fixtures file names (format: ``conformance/example-fixtures.yaml``), reading their
current state through the API rather than assuming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml

from conformance.target import CONTROL_TOKEN_VARIABLE
from conformance.vendors import setup_module
from mock_server.http_clients import tls_context
from mock_server.registry import VENDORS


class NoSetupData(Exception):
    """The test needs data this setup cannot provide; the message says what to add."""


class NotApplicable(NoSetupData):
    """The test can only run against this kit's mock (it needs state only the mock can make):
    against another target it does not apply, and its skip leaves the verdict conclusive."""


class FixturesFileError(ValueError):
    """A fixtures file that cannot be used: the message says what is wrong."""


def _fixtures_sections() -> dict[str, frozenset[str]]:
    """Each registered vendor's section of a fixtures file, and its keys."""
    return {vendor.name: setup_module(vendor.name).FIXTURES_KEYS for vendor in VENDORS}


# The two files users confuse, each named in the other's errors.
OTHER_FORMAT = (
    " - this is the suite's setup data, naming accounts and debits that exist on the target;"
    " the mock's start data (refund-mock --start-data) is another format"
)


def read_fixtures_file(path: Path) -> dict[str, Any]:
    """A fixtures file's content, checked: a mapping of the known sections and keys."""
    sections = _fixtures_sections()
    names = ", ".join(f"{name}:" for name in sections)
    if not path.is_file():
        raise FixturesFileError("no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FixturesFileError(f"cannot be read: {exc}".splitlines()[0]) from None
    if data is None:
        raise FixturesFileError("is empty")
    if not isinstance(data, dict):
        raise FixturesFileError(f"must be a mapping with sections {names}")
    for section, content in data.items():
        known = sections.get(section)
        if known is None:
            raise FixturesFileError(f"unknown section {section!r} (known: {names}){OTHER_FORMAT}")
        if not isinstance(content, dict):
            raise FixturesFileError(f"{section}: must be a mapping")
        unknown = set(content) - known
        if unknown:
            raise FixturesFileError(f"{section}: unknown keys {sorted(unknown)}{OTHER_FORMAT}")
    return data


class ControlClient:
    """The mock's control API, as the suite's setup uses it: JSON changes, the token the mock
    may require, and the run's own session."""

    def __init__(self, control_url: str, session: str | None = None) -> None:
        token = os.environ.get(CONTROL_TOKEN_VARIABLE)
        headers = {"Content-Type": "application/json"}
        if session:
            headers["X-Mock-Session"] = session
        self.http = httpx.Client(
            base_url=control_url,
            headers=headers | ({"X-Mock-Control-Token": token} if token else {}),
            timeout=10,
            verify=tls_context(),
        )

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created


class SetupData(Protocol):
    can_create: bool  # fresh resources with chosen state (only against the mock)

    def vendor(self, name: str) -> Any:
        """The setup data of one vendor API (``conformance.vendors.<name>``'s protocol)."""


class MockSetup:
    """Makes fresh resources through the mock's control API."""

    can_create = True

    def __init__(self, control_url: str, session: str | None = None) -> None:
        self.control = ControlClient(control_url, session)
        self._vendors: dict[str, Any] = {}

    def vendor(self, name: str) -> Any:
        if name not in self._vendors:
            self._vendors[name] = setup_module(name).FromMock(self.control)
        return self._vendors[name]


class FileSetup:
    """Uses the resources a fixtures file names."""

    can_create = False

    def __init__(self, path: Path) -> None:
        self.data = read_fixtures_file(path)
        self.path = path

    def vendor(self, name: str) -> Any:
        return setup_module(name).FromFile(self.data.get(name) or {}, self.path)


class NoFixtures:
    """Neither the mock nor a fixtures file: tests that need data are skipped, saying why."""

    can_create = False

    def vendor(self, name: str) -> Any:
        return _Missing()


class _Missing:
    def __getattr__(self, _name: str) -> Any:
        def missing(*_: Any, **__: Any) -> Any:
            raise NoSetupData("the target is not this kit's mock: pass --setup-data FILE")

        return missing
