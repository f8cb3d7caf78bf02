"""Each registered vendor's setup data for the suite (its ``Vendor.suite_setup``): how to
make fresh resources through the mock's control API (``FromMock``), how to read them from its
section of a fixtures file (``FromFile``, keys ``FIXTURES_KEYS``), and which path parameters
generated requests pin to them (``pinned_parameters``)."""

from __future__ import annotations

import importlib
from types import ModuleType

from mock_server.registry import vendor


def setup_module(name: str) -> ModuleType:
    """The setup module the registered vendor ``name`` names."""
    return importlib.import_module(vendor(name).suite_setup)
