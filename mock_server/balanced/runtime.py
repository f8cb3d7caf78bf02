"""Balanced as one process serves it (``mock_server.vendor.VendorRuntime``), built once by
``build``: the mock imports it by the name its ``Vendor.runtime`` gives, so that the registry
(which the conformance suite reads too) loads no service or handler."""

from __future__ import annotations

from datetime import datetime

from mock_server.balanced import control
from mock_server.balanced.handlers import BalancedHandlers, BalancedShapes
from mock_server.balanced.service import LISTINGS, BalancedService, Policy
from mock_server.clock import Clock
from mock_server.json_types import Json
from mock_server.spec import Contract
from mock_server.store import Store, Transaction


class BalancedRuntime:
    """Balanced as one process serves it: built once, each call given the session's store."""

    def __init__(self, clock: Clock, contract: Contract) -> None:
        self.service = BalancedService(clock, Policy.from_contract(contract))
        shapes = BalancedShapes(contract)
        self.operations = BalancedHandlers(self.service, shapes).operations()
        self.control_operations = control.BalancedControl(self.service, shapes).operations()
        self.listings = LISTINGS

    def seed(self, tx: Transaction, section: Json) -> Json:
        return control.seed(self.service, tx, section)

    def counts(self, store: Store) -> Json:
        return {"balanced_marketplaces": self.service.marketplaces(store, offset=0, limit=1).total}

    def overview(self, store: Store, limit: int) -> Json:
        return control.overview(self.service, store, limit)

    def banner(self, store: Store) -> list[str]:
        return control.banner(self.service, store)

    def advance_due(self, store: Store, cutoff: datetime) -> int:
        return 0  # debits and refunds are final when made


def build(clock: Clock, contract: Contract) -> BalancedRuntime:
    return BalancedRuntime(clock, contract)
