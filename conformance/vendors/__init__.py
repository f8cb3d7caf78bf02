"""Each registered vendor's setup data for the suite, in ``conformance.vendors.<name>``: how to
make fresh resources through the mock's control API (``FromMock``), how to read them from its
section of a fixtures file (``FromFile``, keys ``FIXTURES_KEYS``), and which path parameters
generated requests pin to them (``pinned_parameters``)."""

from __future__ import annotations

import importlib
from types import ModuleType


def setup_module(vendor: str) -> ModuleType:
    """``conformance.vendors.<vendor>``."""
    return importlib.import_module(f"{__name__}.{vendor}")
