"""``--record FILE``: what the target's answers showed, written as the mock's state.

Only a successful exchange that kept to the contract both ways is read (one that broke it is
reported instead, in the header, the journal and the report). Every object in its answer that
a schema of the vendor's models writes becomes a record of that kind (a Balanced refund's
embedded account and debit too); the latest answer about a resource wins, field by field. The
file is the state format ``GET``/``PUT /__mock__/state`` use, checked as an import is checked
before it is written, so ``refund-mock --state FILE`` starts on it. Headers are never read, so
no credential reaches it; a property the contract marks secret (``format: password``,
``writeOnly``) is not read either (``mock_server.wire``)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from mock_server.control.state import (
    checked_record,
    checked_state,
    state_document,
    unheld_references,
)
from mock_server.domain import DomainError
from mock_server.json_types import Json
from mock_server.reading import Fields, Reading, Seen
from mock_server.records import to_record
from mock_server.runtime import VendorApi, operations
from mock_server.spec import Contract, resolved
from mock_server.store import Stored

LOG = logging.getLogger("mock_server.proxy")
SCHEMAS = "#/components/schemas/"


@dataclass(frozen=True)
class Recorded:
    """What a recording comes to: the state document and what it left out, and why."""

    document: Json
    left_out: list[str]


class Recording:
    """What the contract-valid successful answers of one API showed, gathered as they pass."""

    def __init__(self, api: VendorApi, path: Path) -> None:
        self.path = path
        self.contract = api.contract
        self.runtime = api.runtime
        self.models = api.vendor.models
        self.readings = api.runtime.readings
        self.by_kind = {reading.kind: reading for reading in self.readings.values()}
        self.operations = operations(api.contract)
        self.seen: Seen = {}  # in the order first seen
        self.unread: list[str] = []  # objects an answer held that could not be read
        # A listed kind's records are written in their list order, and those its order field
        # cannot tell apart (a time in whole seconds) as the pages of their list showed them
        # (the latest showing of each): the store lists such ties in the order they were added.
        self.order_fields = {listing.kind: listing.order_by for listing in api.runtime.listings}
        self.page_places: dict[tuple[str, str], int] = {}

    def saw(self, operation_id: str, status: int, body: bytes) -> None:
        """Read the records a contract-valid successful answer shows."""
        response = self.operations[operation_id]["responses"].get(str(status))
        if response is None:
            return
        node = (resolved(self.contract, response).get("content") or {}).get("application/json")
        if node is None or "schema" not in node:
            return
        try:
            answer = json.loads(body, parse_float=Decimal)
        except ValueError as exc:  # a coding the proxy passed on undecoded
            self.unread.append(f"{operation_id} {status}: not JSON ({exc})")
            return
        in_this: dict[str, list[tuple[str, Fields]]] = {}
        for reading, shown in _shown(self.contract, node["schema"], answer, self.readings):
            try:
                fields = reading.read(shown)
                key = fields[reading.key]
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                self.unread.append(f"{operation_id}: a {reading.kind} not read ({exc!r})")
                continue
            self.seen[(reading.kind, key)] = {**self.seen.get((reading.kind, key), {}), **fields}
            in_this.setdefault(reading.kind, []).append((key, fields))
        for kind, listed in in_this.items():
            field = self.by_kind[kind].page_start
            said = answer.get(field) if field and isinstance(answer, dict) else None
            start = said if isinstance(said, int) and not isinstance(said, bool) else None
            if kind in self.order_fields and (start is not None or len(listed) > 1):
                self._placed(kind, listed, start or 0)  # a page of a list, or a list

    def _placed(self, kind: str, listed: list[tuple[str, Fields]], start: int) -> None:
        """Where each record of a page starting at ``start`` goes among those its order field
        ties it with, on this page or another of the list: the list's order, or its reverse for
        a list newest first."""
        values: list[Any] = [fields.get(self.order_fields[kind]) for _, fields in listed]
        if None in values:
            return
        if values[0] == values[-1]:  # all tied: the page cannot say its order; the vendor can
            descending = self.by_kind[kind].listed_newest_first
        else:
            descending = values[0] > values[-1]
        for place, (key, _) in enumerate(listed, start):
            self.page_places[(kind, key)] = -place if descending else place

    def _in_list_order(self, seen: Seen) -> Seen:
        """``seen``, each listed kind's records in its list order (ties as pages showed them)."""
        by_kind: dict[str, list[tuple[str, Fields]]] = {}
        for (kind, key), fields in seen.items():
            by_kind.setdefault(kind, []).append((key, fields))
        ordered: Seen = {}
        for kind, records in by_kind.items():
            field = self.order_fields.get(kind)
            if field is not None:

                def listed_at(
                    record: tuple[str, Fields], kind: str = kind, field: str = field
                ) -> Any:
                    value = record[1].get(field)  # None only in a record to be left out
                    return (value is not None, value, self.page_places.get((kind, record[0]), 0))

                records.sort(key=listed_at)
            ordered.update({(kind, key): fields for key, fields in records})
        return ordered

    def recorded(self) -> Recorded:
        """The state document of everything seen that makes a whole record, whose records it
        names are in it too; what was left out, and why."""
        seen: Seen = {where: dict(fields) for where, fields in self.seen.items()}
        self.runtime.completed(seen)
        seen = self._in_list_order(seen)
        left_out = list(self.unread)
        records: list[Stored] = []
        for (kind, key), fields in seen.items():
            try:
                model = self.models[kind](**_none_where_left_out(self.models[kind], fields))
                owners = self.by_kind[kind].owners(fields)
            except (KeyError, TypeError) as exc:
                left_out.append(f"{kind} {key}: only part of it was seen ({exc})")
                continue
            stored = Stored(kind, key, owners, to_record(model))
            try:  # as an import checks it (a null the model does not hold, a bound)
                checked_record(len(records), json.loads(json.dumps(dataclasses.asdict(stored))))
            except DomainError as exc:
                left_out.append(f"{kind} {key}: {exc.message}")
                continue
            records.append(stored)
        records, unnamed = _whole(records)
        document = json.loads(json.dumps(state_document(records)))  # as the file will hold it
        checked_state(document)  # as PUT /__mock__/state and --state check it
        return Recorded(document, left_out + unnamed)

    def write(self) -> Recorded:
        """Write the recording to its file (whole, or not at all: a temporary file renamed)."""
        recorded = self.recorded()
        written = self.path.with_name(self.path.name + ".partial")
        written.write_text(json.dumps(recorded.document, indent=1), encoding="utf-8")
        os.replace(written, self.path)
        LOG.info(
            "recorded %d records to %s%s",
            len(recorded.document["records"]),
            self.path,
            f"; left out {len(recorded.left_out)}:" if recorded.left_out else "",
        )
        for reason in recorded.left_out:
            LOG.info("  %s", reason)
        return recorded


def _shown(
    contract: Contract, node: Json, value: Any, readings: Mapping[str, Reading]
) -> Iterator[tuple[Reading, Json]]:
    """Each object in ``value`` (an answer, as ``node`` describes it) that a schema of
    ``readings`` writes, with that schema's reading: a page's items, an embedded object."""
    reference = node.get("$ref", "")
    if reference.startswith(SCHEMAS) and isinstance(value, dict):
        reading = readings.get(reference.removeprefix(SCHEMAS))
        if reading is not None:
            yield reading, value
    node = resolved(contract, node)
    for part in node.get("allOf", ()):
        yield from _shown(contract, part, value, readings)
    if isinstance(value, dict):
        for name, property_node in (node.get("properties") or {}).items():
            if name in value:
                yield from _shown(contract, property_node, value[name], readings)
    elif isinstance(value, list) and "items" in node:
        for item in value:
            yield from _shown(contract, node["items"], item, readings)


def _none_where_left_out(model: type, fields: Fields) -> Fields:
    """``fields``, with None for each optional field no answer had: an answer leaves out a
    property whose value is None unless its schema requires it ("conditionally returned")."""
    hints = typing.get_type_hints(model)
    absent = {
        each.name: None
        for each in dataclasses.fields(model)
        if each.name not in fields and type(None) in typing.get_args(hints[each.name])
    }
    return {**absent, **fields}


def _whole(records: list[Stored]) -> tuple[list[Stored], list[str]]:
    """``records`` less those naming a record that is not among them (a refund whose account
    was never seen), and so on until none does; what was left out, and why."""
    left_out: list[str] = []
    while True:
        keys = {(stored.kind, stored.key) for stored in records}
        kept = []
        for stored in records:
            missing = [f"{name} {named!r}" for name, _, named in unheld_references(stored, keys)]
            if missing:
                left_out.append(
                    f"{stored.kind} {stored.key}: names {', '.join(missing)}, never seen"
                )
            else:
                kept.append(stored)
        if len(kept) == len(records):
            return kept, left_out
        records = kept
