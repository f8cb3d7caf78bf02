"""Marqeta as one process serves it (``mock_server.vendor.VendorRuntime``), built once by
``build``: the mock imports it by the name its ``Vendor.runtime`` gives, so that the registry
(which the conformance suite reads too) loads no service or handler."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from mock_server.clock import Clock
from mock_server.json_types import Json
from mock_server.marqeta import control
from mock_server.marqeta.handlers import MarqetaHandlers, MarqetaShapes
from mock_server.marqeta.models import (
    ACCOUNT,
    BALANCE_REFUND,
    JOURNAL_ENTRY,
    PAYMENT_SOURCE,
    REFUND,
    TRANSITION,
)
from mock_server.marqeta.service import LISTINGS, MarqetaService, Policy
from mock_server.reading import Fields, Reading, Seen
from mock_server.spec import Contract
from mock_server.store import Store, Transaction


class MarqetaRuntime:
    """Marqeta as one process serves it: built once, each call given the session's store."""

    def __init__(self, clock: Clock, contract: Contract) -> None:
        self.service = MarqetaService(clock, Policy.from_contract(contract))
        shapes = MarqetaShapes(contract)
        self.readings = readings(shapes)
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

    def completed(self, seen: Seen) -> None:
        pass  # every field of a Marqeta record is in the answers that show it


def readings(shapes: MarqetaShapes) -> dict[str, Reading]:
    """Each kind as its answers show it; owned as the service adds it."""

    def by_account(fields: Fields) -> tuple[str, ...]:
        return (fields["account_token"],)

    kinds = (
        Reading(ACCOUNT, shapes.account, "token"),
        Reading(PAYMENT_SOURCE, shapes.payment_source, "token", owners=by_account),
        Reading(BALANCE_REFUND, shapes.balance_refund, "token", owners=by_account),
        Reading(REFUND, shapes.refund, "token", owners=by_account),
        Reading(
            TRANSITION,
            shapes.transition,
            "token",
            owners=lambda fields: (fields["refund_token"],),
        ),
        Reading(JOURNAL_ENTRY, shapes.journal_entry, "token", owners=by_account),
    )
    return {
        reading.shape.schema_name: replace(reading, page_start="start_index") for reading in kinds
    }


def build(clock: Clock, contract: Contract) -> MarqetaRuntime:
    return MarqetaRuntime(clock, contract)
