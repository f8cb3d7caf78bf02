"""Marqeta Credit as the kit knows it (see ``mock_server.vendor``)."""

from __future__ import annotations

from datetime import datetime

from mock_server.auth import DEMO_CREDENTIALS, Credentials
from mock_server.clock import Clock
from mock_server.error_formats import CodedErrorFormat
from mock_server.json_types import Json
from mock_server.marqeta import control
from mock_server.marqeta.errors import MarqetaControlKind, MarqetaKind
from mock_server.marqeta.handlers import MarqetaHandlers, MarqetaShapes
from mock_server.marqeta.service import LISTINGS, MODELS, REFERENCES, MarqetaService, Policy
from mock_server.spec import Contract, error_codes
from mock_server.store import Store, Transaction
from mock_server.vendor import Column, CredentialOptions, Panel, RowAction, Table, Vendor


class MarqetaRuntime:
    """Marqeta as one process serves it: built once, each call given the session's store."""

    def __init__(self, clock: Clock, contract: Contract) -> None:
        self.service = MarqetaService(clock, Policy.from_contract(contract))
        shapes = MarqetaShapes(contract)
        self.operations = MarqetaHandlers(self.service, shapes).operations()
        self.control_operations = control.MarqetaControl(self.service, shapes).operations()
        self.listings = LISTINGS

    def seed(self, tx: Transaction, section: Json) -> Json:
        return control.seed(self.service, tx, section)

    def counts(self, store: Store) -> Json:
        return {"marqeta_accounts": self.service.account_count(store)}

    def overview(self, store: Store, limit: int) -> Json:
        return control.overview(self.service, store, limit)

    def banner(self, store: Store) -> list[str]:
        return control.banner(self.service, store)

    def advance_due(self, store: Store, cutoff: datetime) -> int:
        return self.service.advance_due(store, cutoff)


MARQETA = Vendor(
    name="marqeta",
    title="Marqeta Credit API",
    contract_file="marqeta-credit.yaml",
    control_part=control.CONTROL_PART,
    credentials=CredentialOptions(
        flag="--auth",
        metavar="USER:PASS",
        file_flag="--auth-file",
        variable="REFUND_MOCK_AUTH",
        meaning="credentials (HTTP Basic)",
        demo=DEMO_CREDENTIALS,
        parse=Credentials.parse,
        suite_hint="application token:access token",
    ),
    error_format=lambda contract: CodedErrorFormat(error_codes(contract)),
    error_kinds=MarqetaKind,
    control_error_kinds=(
        MarqetaKind.ACCOUNT_NOT_FOUND,
        MarqetaKind.AMOUNT_TOO_PRECISE,
        MarqetaKind.DUPLICATE_TOKEN,
        MarqetaControlKind.NO_NEXT_STATUS,
        MarqetaKind.REFUND_NOT_FOUND,
        MarqetaKind.TRANSITION_NOT_ALLOWED,
    ),
    build=MarqetaRuntime,
    models=MODELS,
    references=REFERENCES,
    suite_setup="conformance.vendors.marqeta",
    suite_checks="conformance.checks.marqeta",
    panel=Panel(
        title="Marqeta credit accounts",
        items="accounts",
        total="accounts_total",
        noun="account",
        plural="accounts",
        order="last changed",
        key="token",
        heading="{token}",
        subtitle="balance {current_balance|money} {currency_code}, limit {credit_limit|money},"
        " journal entries: {journal_entries_total}",
        tables=(
            Table(
                items="refunds",
                total="refunds_total",
                noun="refund",
                key="token",
                columns=(
                    Column("refund", "token"),
                    Column("status", "status", "status"),
                    Column("amount", "amount", "money"),
                    Column("updated", "updated_at", "time"),
                ),
                action=RowAction(
                    "Advance", "/refunds/{token}/advance", "Refund {token} is now {status}"
                ),
                empty="No refunds.",
            ),
            Table(
                items="journal_entries",
                total="journal_entries_total",
                noun="journal entry",
                columns=(
                    Column("type", "type"),
                    Column("amount", "amount", "money"),
                    Column("for", "detail_token"),
                    Column("at", "created_at", "time"),
                ),
                folded="Journal entries",
                empty="",
            ),
        ),
    ),
)
