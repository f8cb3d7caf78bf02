"""Balanced Payments v1 as the kit knows it (see ``mock_server.vendor``)."""

from __future__ import annotations

from mock_server.auth import Credentials
from mock_server.balanced.errors import BalancedControlKind, BalancedKind
from mock_server.balanced.models import MODELS, REFERENCES
from mock_server.vendor import Column, CredentialOptions, Panel, Table, Vendor

# The API key secret is the user name, the password is empty.
DEMO_BALANCED_SECRET = "ak-test-demo-secret"
DEMO_BALANCED_CREDENTIALS = Credentials(((DEMO_BALANCED_SECRET, ""),), is_demo=True)

BALANCED = Vendor(
    name="balanced",
    title="Balanced Payments v1 API",
    contract_file="balanced-v1.yaml",
    control_part="mock-control-balanced.yaml",
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
    error_kinds=BalancedKind,
    control_error_kinds=(
        BalancedKind.MARKETPLACE_NOT_FOUND,
        BalancedKind.ACCOUNT_NOT_FOUND,
        BalancedKind.DEBIT_NOT_FOUND,
        BalancedKind.INVALID_AMOUNT,
        BalancedControlKind.TRANSITION_NOT_ALLOWED,
    ),
    runtime="mock_server.balanced.runtime",
    models=MODELS,
    references=REFERENCES,
    suite_setup="conformance.vendors.balanced",
    suite_checks="conformance.checks.balanced",
    suite_sequences="debit -> refund -> retrieve -> update -> list",
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
