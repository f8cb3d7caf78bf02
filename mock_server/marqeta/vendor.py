"""Marqeta Credit as the kit knows it (see ``mock_server.vendor``)."""

from __future__ import annotations

from mock_server.auth import Credentials
from mock_server.marqeta.errors import MarqetaControlKind, MarqetaKind
from mock_server.marqeta.models import MODELS, REFERENCES
from mock_server.vendor import Column, CredentialOptions, Panel, RowAction, Table, Vendor

DEMO_USER = "demo_app_token"
DEMO_PASSWORD = "demo_access_token"
DEMO_CREDENTIALS = Credentials(((DEMO_USER, DEMO_PASSWORD),), is_demo=True)

MARQETA = Vendor(
    name="marqeta",
    title="Marqeta Credit API",
    contract_file="marqeta-credit.yaml",
    control_part="mock-control-marqeta.yaml",
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
    error_kinds=MarqetaKind,
    control_error_kinds=(
        MarqetaKind.ACCOUNT_NOT_FOUND,
        MarqetaKind.AMOUNT_TOO_PRECISE,
        MarqetaKind.DUPLICATE_TOKEN,
        MarqetaControlKind.NO_NEXT_STATUS,
        MarqetaKind.REFUND_NOT_FOUND,
        MarqetaKind.TRANSITION_NOT_ALLOWED,
    ),
    runtime="mock_server.marqeta.runtime",
    models=MODELS,
    references=REFERENCES,
    suite_setup="conformance.vendors.marqeta",
    suite_checks="conformance.checks.marqeta",
    suite_sequences="create refund -> retrieve -> transition -> list",
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
                    "Advance",
                    "/refunds/{token}/advance",
                    "Refund {token} is now {status}",
                    enabled_by="advanceable",
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
