"""Balanced Payments v1 as the kit knows it (see ``mock_server.vendor``)."""

from __future__ import annotations

from datetime import datetime

from mock_server.auth import DEMO_BALANCED_CREDENTIALS, Credentials
from mock_server.balanced import control
from mock_server.balanced.errors import BalancedControlKind, BalancedKind
from mock_server.balanced.handlers import BalancedHandlers, BalancedShapes
from mock_server.balanced.service import LISTINGS, MODELS, REFERENCES, BalancedService, Policy
from mock_server.clock import Clock
from mock_server.error_formats import BalancedErrorFormat
from mock_server.json_types import Json
from mock_server.spec import Contract
from mock_server.store import Store, Transaction
from mock_server.vendor import Column, CredentialOptions, Panel, Table, Vendor


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


BALANCED = Vendor(
    name="balanced",
    title="Balanced Payments v1 API",
    contract_file="balanced-v1.yaml",
    control_part=control.CONTROL_PART,
    credentials=CredentialOptions(
        flag="--balanced-key",
        metavar="SECRET",
        file_flag="--balanced-key-file",
        variable="REFUND_MOCK_BALANCED_KEYS",
        meaning="API key secret (HTTP Basic user, empty password)",
        demo=DEMO_BALANCED_CREDENTIALS,
        parse=Credentials.api_key_secrets,
        suite_hint="API key secret: (empty password)",
        user_is_secret=True,
    ),
    error_format=lambda contract: BalancedErrorFormat(contract["x-mock-error-categories"]),
    error_kinds=BalancedKind,
    control_error_kinds=(
        BalancedKind.MARKETPLACE_NOT_FOUND,
        BalancedKind.ACCOUNT_NOT_FOUND,
        BalancedKind.DEBIT_NOT_FOUND,
        BalancedKind.INVALID_AMOUNT,
        BalancedControlKind.TRANSITION_NOT_ALLOWED,
    ),
    build=BalancedRuntime,
    models=MODELS,
    references=REFERENCES,
    suite_setup="conformance.vendors.balanced",
    suite_checks="conformance.checks.balanced",
    panel=Panel(
        title="Balanced marketplaces",
        items="marketplaces",
        total="marketplaces_total",
        noun="marketplace",
        plural="marketplaces",
        order="first",
        key="id",
        heading="{name}",
        subtitle="{id}, in escrow {in_escrow|cents}",
        tables=(
            Table(
                items="debits",
                total="debits_total",
                noun="debit",
                key="id",
                columns=(
                    Column("debit", "id"),
                    Column("amount", "amount", "cents"),
                    Column("status", "status", "status"),
                    Column("refunds", "refunds", "list", item="{id} ({amount})"),
                ),
            ),
        ),
    ),
)
