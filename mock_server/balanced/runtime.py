"""Balanced as one process serves it (``mock_server.vendor.VendorRuntime``), built once by
``build``: the mock imports it by the name its ``Vendor.runtime`` gives, so that the registry
(which the conformance suite reads too) loads no service or handler."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime

from mock_server.balanced import control
from mock_server.balanced.handlers import BalancedHandlers, BalancedShapes
from mock_server.balanced.models import ACCOUNT, DEBIT, MARKETPLACE, REFUND
from mock_server.balanced.service import (
    LISTINGS,
    BalancedService,
    Policy,
    account_owners,
    debit_owners,
    refund_owners,
)
from mock_server.balanced.uris import ids_in
from mock_server.clock import Clock
from mock_server.json_types import Json
from mock_server.reading import Fields, Reading, Seen
from mock_server.spec import Contract
from mock_server.store import Store, Transaction


class BalancedRuntime:
    """Balanced as one process serves it: built once, each call given the session's store."""

    def __init__(self, clock: Clock, contract: Contract) -> None:
        self.service = BalancedService(clock, Policy.from_contract(contract))
        shapes = BalancedShapes(contract)
        self.readings = readings(shapes)
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

    def completed(self, seen: Seen) -> None:
        """A debit's refunded total and reversed fee are its refunds' (those seen); an
        account's card is the one its debits were drawn from."""
        refunded: Counter[str] = Counter()
        fee_reversed: Counter[str] = Counter()
        for (kind, _), fields in seen.items():
            if kind == REFUND:
                refunded[fields.get("debit_id", "")] += fields.get("amount") or 0
                fee_reversed[fields.get("debit_id", "")] -= fields.get("fee") or 0
        cards: dict[str, str] = {}
        for (kind, key), fields in seen.items():
            if kind != DEBIT:
                continue
            fields["refunded"] = refunded[key]
            fields["fee_reversed"] = fee_reversed[key]
            if "card_id" in fields and "account_id" in fields:
                cards[fields["account_id"]] = fields["card_id"]
        for (kind, key), fields in seen.items():
            if kind == ACCOUNT:
                # No debit seen: a card of its own, as the mock gives each account one.
                fields.setdefault("card_id", cards.get(key, f"CC{key.removeprefix('AC')}"))


def readings(shapes: BalancedShapes) -> dict[str, Reading]:
    """Each kind as its answers show it: the ids its fields hold are in its URIs (and a
    refund's in the account and debit it embeds); owned as the service adds it."""

    def account_links(body: Json) -> Fields:
        return {"marketplace_id": ids_in(body["uri"])["marketplaces"]}

    def debit_links(body: Json) -> Fields:
        account = ids_in(body["account_uri"])
        return {
            "marketplace_id": account["marketplaces"],
            "account_id": account["accounts"],
            "hold_id": ids_in(body["hold_uri"])["holds"],
            "card_id": ids_in(body["source_uri"])["cards"],
        }

    def refund_links(body: Json) -> Fields:
        return {
            "marketplace_id": ids_in(body["uri"])["marketplaces"],
            "account_id": body["account"]["id"],
            "debit_id": body["debit"]["id"],
        }

    kinds = (
        Reading(MARKETPLACE, shapes.marketplace, "id", listed_newest_first=False),
        Reading(
            ACCOUNT,
            shapes.account,
            "id",
            linked=account_links,
            owners=lambda fields: account_owners(fields["marketplace_id"]),
            listed_newest_first=False,
        ),
        Reading(
            DEBIT,
            shapes.debit,
            "id",
            linked=debit_links,
            owners=lambda fields: debit_owners(fields["marketplace_id"], fields["account_id"]),
            listed_newest_first=False,
        ),
        Reading(
            REFUND,
            shapes.refund,
            "id",
            linked=refund_links,
            owners=lambda fields: refund_owners(
                fields["marketplace_id"], fields["account_id"], fields["debit_id"]
            ),
            listed_newest_first=False,
        ),
    )
    return {reading.shape.schema_name: replace(reading, page_start="offset") for reading in kinds}


def build(clock: Clock, contract: Contract) -> BalancedRuntime:
    return BalancedRuntime(clock, contract)
