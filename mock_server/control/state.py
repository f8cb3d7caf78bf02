"""The whole state of a mock as one JSON document: ``GET`` and ``PUT /__mock__/state``.

An exported state imports back to the same state, in the same or another mock (a snapshot to
restore between tests, or a bug report's data). An import is checked record by record before
anything changes: each must be a record of a known kind that decodes to its model and encodes
back to itself, so no import can leave state the mock's rules could not have made.
"""

from __future__ import annotations

import dataclasses
from decimal import InvalidOperation
from typing import Any

from mock_server.domain import DomainError
from mock_server.records import from_record, to_record
from mock_server.registry import VENDORS
from mock_server.store import KeyExistsError, Store, Stored

FORMAT = "refund-contract-kit/state"
VERSION = 1
MODELS: dict[str, type] = {kind: model for v in VENDORS for kind, model in v.models.items()}


def export_state(store: Store) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "records": [dataclasses.asdict(stored) for stored in store.export()],
    }


def import_state(store: Store, document: dict[str, Any]) -> int:
    """Replace the whole state with ``document`` (all or nothing); how many records it holds."""
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise DomainError(
            "invalid_request", f"A state document has format {FORMAT!r} and version {VERSION}"
        )
    records = [_checked(number, entry) for number, entry in enumerate(document["records"])]
    try:
        store.replace_all(records)
    except KeyExistsError as exc:
        raise DomainError("invalid_request", f"records: {exc}") from exc
    return len(records)


def _checked(number: int, entry: dict[str, Any]) -> Stored:
    where = f"records/{number} ({entry['kind']} {entry['key']!r})"
    model = MODELS.get(entry["kind"])
    if model is None:
        raise DomainError(
            "invalid_request", f"{where}: unknown kind; known: {', '.join(sorted(MODELS))}"
        )
    try:
        # Fields added since the document was written come back with their defaults.
        written = to_record(from_record(model, entry["record"]))
        same = {name: written[name] for name in entry["record"] if name in written} == entry[
            "record"
        ]
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise DomainError("invalid_request", f"{where}: not a valid record: {exc!r}") from exc
    if not same:
        raise DomainError("invalid_request", f"{where}: fields of the wrong type or spelling")
    return Stored(entry["kind"], entry["key"], tuple(entry["owners"]), entry["record"])
