"""Rules every response must satisfy that a JSON schema cannot say, as Schemathesis checks.

Importing this package registers them: those of every API (``common``), and each registered
vendor's own (the module its ``Vendor.suite_checks`` names; checks named ``<name>_...``).
``ALL`` lists them for reports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from conformance.checks.common import (
    not_a_server_error_but_501_for_unlisted_methods,
    success_status_documented,
    unlisted_method_refused,
    valid_request_not_rejected_as_malformed,
)
from mock_server.registry import VENDORS

Check = Callable[[Any, Any, Any], bool | None]

# Each registered vendor's own, by vendor name.
VENDOR_CHECKS: dict[str, tuple[Check, ...]] = {
    vendor.name: tuple(importlib.import_module(vendor.suite_checks).CHECKS) for vendor in VENDORS
}
ALL: tuple[Check, ...] = (
    not_a_server_error_but_501_for_unlisted_methods,
    unlisted_method_refused,
    success_status_documented,
    valid_request_not_rejected_as_malformed,
    *(check for checks in VENDOR_CHECKS.values() for check in checks),
)
