"""The tip jar's service, handlers and control hooks, built once per process."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from mock_server.clock import Clock, format_timestamp
from mock_server.domain import DomainError
from mock_server.error_kinds import ControlKind, ErrorKind
from mock_server.json_types import Json
from mock_server.records import from_record, to_record
from mock_server.sessions import Session
from mock_server.spec import Contract
from mock_server.store import KeyExistsError, Store, Transaction
from refund_kit_tipjar.vendor import REFERENCE, TIP, Tip, TipjarKind, UsedReference


class TipJar:
    """The one rule: a reference is used by one tip only."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def leave(
        self, tx: Transaction, reference: str, amount: int, tip_id: str | None, taken: ErrorKind
    ) -> Json:
        tip = Tip(tip_id or f"TIP{uuid.uuid4().hex[:16]}", reference, amount, self.clock.now())
        try:
            tx.add(REFERENCE, reference, to_record(UsedReference(tip.id)))
            tx.add(TIP, tip.id, to_record(tip))
        except KeyExistsError as exc:
            message = f"reference {reference!r} or id {tip.id!r} is in use"
            raise DomainError(taken, message) from exc
        return written(tip)

    def tip(self, store: Store, tip_id: str) -> Json:
        with store.transaction() as tx:
            found = tx.get(TIP, tip_id)
        if found is None:
            raise DomainError(TipjarKind.TIP_NOT_FOUND, f"no tip {tip_id!r}")
        return written(from_record(Tip, found))

    def tips(self, store: Store) -> list[Json]:
        with store.transaction() as tx:
            return [written(from_record(Tip, record)) for record in tx.owned(TIP)]


def written(tip: Tip) -> Json:
    """A tip as the contract's ``Tip`` has it."""
    return {**asdict(tip), "created_at": format_timestamp(tip.created_at)}


class TipjarRuntime:
    def __init__(self, clock: Clock) -> None:
        self.jar = TipJar(clock)
        self.operations = {"createTip": self.create_tip, "retrieveTip": self.retrieve_tip}
        self.control_operations: dict[str, Any] = {}
        self.listings = ()
        self.readings: dict[str, Any] = {}  # `refund-mock proxy --record` keeps no tips

    def completed(self, seen: Any) -> None:
        pass

    def create_tip(self, session: Session, body: Json) -> tuple[Json, int]:
        with session.store.transaction() as tx:
            tip = self.jar.leave(
                tx, body["reference"], body["amount"], None, TipjarKind.REFERENCE_TAKEN
            )
        return tip, 201

    def retrieve_tip(self, session: Session, tip_id: str) -> tuple[Json, int]:
        return self.jar.tip(session.store, tip_id), 200

    def seed(self, tx: Transaction, section: Json) -> Json:
        made = [
            self.jar.leave(
                tx, tip["reference"], tip["amount"], tip.get("id"), ControlKind.DUPLICATE_TOKEN
            )
            for tip in section.get("tips", [])
        ]
        return {"tips": made}

    def counts(self, store: Store) -> Json:
        return {"tipjar_tips": len(self.jar.tips(store))}

    def overview(self, store: Store, limit: int) -> Json:
        tips = self.jar.tips(store)
        jar = {"id": "the jar", "tips": tips[::-1][:limit], "tip_total": len(tips)}
        return {"jars": [jar], "jar_total": 1}

    def banner(self, store: Store) -> list[str]:
        return [f"tip jar  {len(self.jar.tips(store))} tips"]

    def advance_due(self, store: Store, cutoff: datetime) -> int:
        return 0  # tips have no lifecycle


def build(clock: Clock, contract: Contract) -> TipjarRuntime:
    return TipjarRuntime(clock)
