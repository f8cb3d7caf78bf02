"""What one process serves, built once at start-up: each vendor API (contract, error format,
credentials, handlers) and the operations on a session's whole state. A session is only its
store: every request is given its own (``mock_server.sessions.Session``)."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mock_server.auth import Credentials
from mock_server.clock import Clock
from mock_server.contract_facts import ContractFacts
from mock_server.control.forced import OperationAnswers
from mock_server.error_formats import ErrorFormat
from mock_server.error_kinds import Common, ControlKind, ErrorKind
from mock_server.json_types import Json
from mock_server.registry import VENDORS
from mock_server.spec import Contract, load_contract
from mock_server.store import Store, Stored, Transaction
from mock_server.vendor import Handler, Vendor, VendorRuntime


class StartupError(ValueError):
    """The mock cannot start as built (said in one line, before anything is served)."""


@dataclass(frozen=True)
class VendorApi:
    """One vendor contract as the mock serves it."""

    vendor: Vendor
    contract: Contract
    facts: ContractFacts
    credentials: Credentials
    runtime: VendorRuntime

    @property
    def error_format(self) -> ErrorFormat:
        return self.facts.error_format

    @property
    def name(self) -> str:
        return self.vendor.name

    @property
    def base_paths(self) -> list[str]:
        """The contract's server paths, e.g. ``/v3`` and ``/v3/credit``."""
        return [server["url"] for server in self.contract["servers"]]

    @functools.cached_property
    def answers(self) -> dict[str, OperationAnswers]:
        """What the contract documents each operation may answer, by operationId."""
        return {
            operation_id: OperationAnswers(self.contract, operation_id, operation)
            for operation_id, operation in operations(self.contract).items()
        }


def vendor_apis(
    credentials_for: Callable[[Vendor], Credentials], clock: Clock
) -> dict[str, VendorApi]:
    """Every registered vendor's API, its runtime built, accepting the credentials
    ``credentials_for`` gives it (``MockConfig.credentials_for``)."""
    apis = {}
    for vendor in VENDORS:
        contract = load_contract(vendor.contract_file)
        runtime = built(vendor, clock, contract)
        apis[vendor.name] = VendorApi(
            vendor=vendor,
            contract=contract,
            facts=ContractFacts.read(contract),
            credentials=credentials_for(vendor),
            runtime=runtime,
        )
        what = f"the {vendor.name} API"
        checked_handlers(what, contract, [runtime.operations])
        checked_error_kinds(what, apis[vendor.name].error_format, [*Common, *vendor.error_kinds])
    return apis


def checked_error_kinds(what: str, error_format: ErrorFormat, kinds: Iterable[ErrorKind]) -> None:
    """StartupError unless the API's error table has every kind its operations may raise."""
    missing = sorted(kind for kind in kinds if not error_format.knows(kind))
    if missing:
        raise StartupError(f"{what}: its error table has no {', '.join(missing)}")


def control_error_kinds(apis: Mapping[str, VendorApi]) -> list[ErrorKind]:
    """Every kind the control API's operations may raise."""
    return [
        *Common,
        *ControlKind,
        *(kind for api in apis.values() for kind in api.vendor.control_error_kinds),
    ]


def built(vendor: Vendor, clock: Clock, contract: Contract) -> VendorRuntime:
    """The vendor's runtime, from the module its ``Vendor.runtime`` names."""
    build: Callable[[Clock, Contract], VendorRuntime] = importlib.import_module(
        vendor.runtime
    ).build
    return build(clock, contract)


def operations(contract: Contract) -> dict[str, dict[str, Any]]:
    """The contract's operations, by operationId."""
    return {
        operation["operationId"]: operation
        for item in contract["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def checked_handlers(
    what: str, contract: Contract, tables: Iterable[Mapping[str, Handler]]
) -> dict[str, Handler]:
    """The handler tables as one, checked against the contract both ways: an operation without
    a handler, a handler without an operation, or two handlers for one operation is a
    StartupError (never a 404 or a 500 while serving)."""
    handlers: dict[str, Handler] = {}
    for table in tables:
        twice = handlers.keys() & table.keys()
        if twice:
            raise StartupError(f"{what}: two handlers for {', '.join(sorted(twice))}")
        handlers.update(table)
    documented = operations(contract).keys()
    if missing := documented - handlers.keys():
        raise StartupError(f"{what}: no handler for {', '.join(sorted(missing))}")
    if extra := handlers.keys() - documented:
        raise StartupError(
            f"{what}: handlers for {', '.join(sorted(extra))}, not operations of its contract"
        )
    return handlers


class StateService:
    """What the mock does to a session's whole state, across every vendor: open it, seed it,
    reset it, count it."""

    def __init__(
        self,
        apis: Mapping[str, VendorApi],
        start_fixtures: list[Json],
        start_records: Sequence[Stored] = (),
    ) -> None:
        self.vendors = {name: api.runtime for name, api in apis.items()}
        self.start_fixtures = start_fixtures
        self.start_records = start_records  # --state: a whole state, checked as an import

    def opened(self, store: Store) -> Store:
        """``store`` ready to serve: its listings declared and, if it is empty, the start
        fixtures in it (checked in the same transaction: replicas or workers may open it at
        once; a durable store restarted on its file keeps its state)."""
        for vendor in self.vendors.values():
            for listing in vendor.listings:
                store.index(listing)
        with store.transaction() as tx:
            if tx.is_empty():
                self._seed_start_fixtures(tx)
        return store

    def seed(self, store: Store, fixtures: Json) -> Json:
        """Create everything in ``fixtures`` in one transaction (all or nothing: a duplicate id
        anywhere leaves the state as it was); what was created, by vendor."""
        with store.transaction() as tx:
            return self._seed_in(tx, fixtures)

    def reset(self, store: Store, load_fixtures: bool = True) -> None:
        """Clear the state and seed the start fixtures, as one transaction: resets at the same
        time (from replicas too) cannot interleave into duplicate tokens."""
        with store.transaction() as tx:
            tx.clear()
            if load_fixtures:
                self._seed_start_fixtures(tx)

    def counts(self, store: Store) -> Json:
        """What a reset or a state import reports (``ResetResult``)."""
        counts: Json = {}
        for vendor in self.vendors.values():
            counts |= vendor.counts(store)
        return counts

    def _seed_in(self, tx: Transaction, fixtures: Json) -> Json:
        return {
            name: vendor.seed(tx, fixtures.get(name) or {}) for name, vendor in self.vendors.items()
        }

    def _seed_start_fixtures(self, tx: Transaction) -> None:
        for stored in self.start_records:
            tx.add(stored.kind, stored.key, stored.record, stored.owners)
        for fixtures in self.start_fixtures:
            self._seed_in(tx, fixtures)
