"""The vendor APIs the suite knows: their contracts, and how each spells a malformed request."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from mock_server.contract_facts import error_format_of
from mock_server.error_formats import ErrorFormat
from mock_server.error_kinds import Common
from mock_server.registry import VENDORS
from mock_server.spec import CONTRACTS_DIR, Contract, load_contract
from mock_server.vendor import Vendor


@dataclass(frozen=True)
class Api:
    vendor: Vendor

    @property
    def name(self) -> str:
        return self.vendor.name

    @property
    def contract_file(self) -> str:
        return self.vendor.contract_file

    @property
    def credentials_hint(self) -> str:
        return self.vendor.credentials.suite_hint

    @property
    def contract_path(self) -> str:
        return str(CONTRACTS_DIR / self.contract_file)

    @functools.cached_property
    def contract(self) -> Contract:
        return load_contract(self.contract_file)

    @functools.cached_property
    def errors(self) -> ErrorFormat:
        return error_format_of(self.contract, self.contract_file)

    @property
    def title(self) -> str:
        return str(self.contract["info"]["title"])

    def is_malformed_request_error(self, status: int, body: Any) -> bool:
        """Whether an error body says "your request is malformed" (as opposed to a business rule).

        Read from the contract's error table: its ``invalid_request`` entry. An implementation
        that uses other codes is simply never accused by the check built on this.
        """
        return status == 400 and self.errors.says(Common.INVALID_REQUEST, body)


APIS = {vendor.name: Api(vendor) for vendor in VENDORS}


def api_titled(title: str) -> Api | None:
    """The API whose contract has this title (how a check knows which vendor a case is for)."""
    return next((api for api in APIS.values() if api.title == title), None)
