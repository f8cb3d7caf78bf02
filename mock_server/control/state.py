"""The whole state of a mock as one JSON document: ``GET`` and ``PUT /__mock__/state``.

An exported state imports back to the same state, in the same or another mock (a snapshot to
restore between tests, or a bug report's data). An import is checked record by record before
anything changes: each must be a record of a known kind, its fields of its model's types and
within the contracts' bounds, naming only records the document holds, and decode to its model
and encode back to itself, so no import can leave state the mock's rules could not have made.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import NoneType, UnionType
from typing import Any

from mock_server.domain import DomainError
from mock_server.error_kinds import Common
from mock_server.records import from_record, to_record
from mock_server.registry import VENDORS
from mock_server.store import Store, Stored

FORMAT = "refund-contract-kit/state"
VERSION = 1
MODELS: dict[str, type] = {kind: model for v in VENDORS for kind, model in v.models.items()}
REFERENCES: dict[str, Mapping[str, str]] = {
    kind: fields for v in VENDORS for kind, fields in v.references.items()
}
# Every integer and amount the contracts allow is within this (JSON numbers stay exact).
LARGEST = 2**53 - 1
KEY_FIELDS = ("token", "id")  # the field a record's key repeats, whichever its model has


def export_state(store: Store) -> dict[str, Any]:
    return state_document(store.export())


def import_state(store: Store, document: dict[str, Any]) -> int:
    """Replace the whole state with ``document`` (all or nothing); how many records it holds.

    Every record is checked first, as the API's rules would have made it: a known kind, each
    field of its model's type (finite amounts and integers within the contracts' bounds, aware
    times), its key its token, listed under at least one owner, and every record it names
    present. Nothing changes unless all of them pass."""
    records = checked_state(document)  # a key given twice among them too
    store.replace_all(records)
    return len(records)


def checked_state(document: dict[str, Any]) -> list[Stored]:
    """The records of a state document, each checked as ``import_state`` checks them; the
    first that fails is a ``DomainError`` saying where and why."""
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise DomainError(
            Common.INVALID_REQUEST, f"A state document has format {FORMAT!r} and version {VERSION}"
        )
    entries = document.get("records")
    if not isinstance(entries, list):
        raise DomainError(Common.INVALID_REQUEST, "records: a list of records")
    records = [checked_record(number, entry) for number, entry in enumerate(entries)]
    seen: set[tuple[str, str]] = set()
    for number, stored in enumerate(records):
        if (stored.kind, stored.key) in seen:
            named = f"{stored.kind} {stored.key!r}"
            raise DomainError(Common.INVALID_REQUEST, f"records/{number}: {named} already exists")
        seen.add((stored.kind, stored.key))
    _check_references(records)
    return records


def read_state_file(path: Path) -> list[Stored]:
    """The records of a state file (``refund-mock --state``, a ``proxy --record`` file), as an
    import checks them; a ValueError saying where and why when it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"cannot read the state file {path}: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a state document (a JSON object)")
    try:
        return checked_state(document)
    except DomainError as exc:
        raise ValueError(f"{path}: {exc.message}") from None


def state_document(records: list[Stored]) -> dict[str, Any]:
    """``records`` as a state document (what ``GET /__mock__/state`` answers)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "records": [dataclasses.asdict(stored) for stored in records],
    }


def checked_record(number: int, entry: Any) -> Stored:
    """One record of a state document, checked (``import_state``); a DomainError if not."""
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("kind"), str)
        and isinstance(entry.get("key"), str)
        and isinstance(entry.get("record"), dict)
        and isinstance(entry.get("owners"), list)
    ):
        raise DomainError(
            Common.INVALID_REQUEST, f"records/{number}: an object with kind, key, owners and record"
        )
    where = f"records/{number} ({entry['kind']} {entry['key']!r})"
    model = MODELS.get(entry["kind"])
    if model is None:
        raise DomainError(
            Common.INVALID_REQUEST, f"{where}: unknown kind; known: {', '.join(sorted(MODELS))}"
        )
    owners = entry["owners"]
    if not owners or not all(isinstance(owner, str) for owner in owners):
        raise DomainError(Common.INVALID_REQUEST, f"{where}: owners must be one or more strings")
    record = entry["record"]
    hints = typing.get_type_hints(model)
    for name, value in record.items():
        if name in hints and not _conforms(value, hints[name]):
            raise DomainError(
                Common.INVALID_REQUEST,
                f"{where}: {name} is not a valid {_spelled(hints[name])}: {_shown(value)}",
            )
    try:
        # Fields added since the document was written come back with their defaults.
        written = to_record(from_record(model, record))
        same = {name: written[name] for name in record if name in written} == record
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise DomainError(Common.INVALID_REQUEST, f"{where}: not a valid record: {exc!r}") from exc
    if not same:
        raise DomainError(Common.INVALID_REQUEST, f"{where}: fields of the wrong type or spelling")
    key_field = next((name for name in KEY_FIELDS if name in hints), None)
    if key_field is not None and record[key_field] != entry["key"]:
        raise DomainError(Common.INVALID_REQUEST, f"{where}: the key must be its {key_field}")
    return Stored(entry["kind"], entry["key"], tuple(owners), record)


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a stored value is what a field of type ``hint`` holds (types as the models use
    them: str, int, Decimal, datetime, optional ones, lists and maps of strings)."""
    if value is None:
        return type(None) in typing.get_args(hint)
    if typing.get_origin(hint) in (UnionType, typing.Union):
        return any(_conforms(value, each) for each in typing.get_args(hint) if each is not NoneType)
    if hint is str:
        return isinstance(value, str)
    if hint is int:
        return type(value) is int and abs(value) <= LARGEST
    if hint is bool:
        return type(value) is bool
    if hint is Decimal:
        return isinstance(value, str) and _finite_amount(value)
    if hint is datetime:
        return isinstance(value, str) and _aware_time(value)
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_conforms(each, item) for each in value)
    if typing.get_origin(hint) is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(
            _conforms(k, key) and _conforms(v, item) for k, v in value.items()
        )
    raise TypeError(f"state import cannot check a field of type {hint}")  # a new model's type


def _finite_amount(text: str) -> bool:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return False
    return amount.is_finite() and abs(amount) <= LARGEST


def _aware_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def _spelled(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint)


def _shown(value: Any) -> str:
    shown = json.dumps(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def unheld_references(stored: Stored, keys: set[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Each (field, kind, key) ``stored`` names that ``keys`` does not hold (a refund's
    account, its debit)."""
    return [
        (name, kind, named)
        for name, kind in REFERENCES.get(stored.kind, {}).items()
        if (named := stored.record.get(name)) is not None and (kind, named) not in keys
    ]


def _check_references(records: list[Stored]) -> None:
    """Every record a field names is in the document too."""
    keys = {(stored.kind, stored.key) for stored in records}
    for number, stored in enumerate(records):
        missing = unheld_references(stored, keys)
        if missing:
            name, kind, named = missing[0]
            raise DomainError(
                Common.INVALID_REQUEST,
                f"records/{number} ({stored.kind} {stored.key!r}): {name} names {kind}"
                f" {named!r}, which the document does not hold",
            )
