"""The tip jar as the kit knows it: the one object its entry point names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mock_server.auth import Credentials
from mock_server.error_kinds import ErrorKind
from mock_server.vendor import Column, CredentialOptions, Panel, Table, Vendor

HERE = Path(__file__).parent
TIP = "tipjar.tip"
REFERENCE = "tipjar.reference"  # a reference in use, and the tip that used it
DEMO_CREDENTIALS = Credentials((("tipper", "tip-pass"),), is_demo=True)


@dataclass(frozen=True)
class Tip:
    id: str
    reference: str
    amount: int  # cents
    created_at: datetime


@dataclass(frozen=True)
class UsedReference:
    tip: str


class TipjarKind(ErrorKind):
    TIP_NOT_FOUND = "tip_not_found"
    REFERENCE_TAKEN = "reference_taken"


TIPJAR = Vendor(
    name="tipjar",
    title="Tip Jar API",
    contract_file=str(HERE / "tipjar.yaml"),
    control_part=str(HERE / "mock-control-tipjar.yaml"),
    credentials=CredentialOptions(
        flag="--tipjar-auth",
        metavar="USER:PASS",
        file_flag="--tipjar-auth-file",
        variable="REFUND_MOCK_TIPJAR_AUTH",
        meaning="credentials (HTTP Basic)",
        demo=DEMO_CREDENTIALS,
        parse=Credentials.parse,
        suite_hint="user:password",
    ),
    error_kinds=TipjarKind,
    control_error_kinds=(),
    runtime="refund_kit_tipjar.runtime",
    models={TIP: Tip, REFERENCE: UsedReference},
    panel=Panel(
        title="Tip jar",
        items="jars",
        total="jar_total",
        noun="jar",
        plural="jars",
        order="the one",
        key="id",
        heading="{id}",
        subtitle="{tip_total} tips",
        tables=(
            Table(
                items="tips",
                total="tip_total",
                noun="tip",
                key="id",
                columns=(
                    Column("Tip", "id"),
                    Column("Reference", "reference"),
                    Column("Amount", "amount", "cents"),
                ),
            ),
        ),
    ),
    suite_setup="refund_kit_tipjar.suite_setup",
    suite_checks="refund_kit_tipjar.suite_checks",
    suite_sequences="leave a tip -> read it",
)
