"""Known findings a team has accepted, each with its reason: one file format for every report the
kit makes (``refund-contract diff`` and ``drift`` today).

An entry is keyed by rule id, operation id (or ``METHOD path``; null for the document) and
location (a JSON pointer). Baselined findings are still reported, marked ``baselined``, and do
not fail the run; an entry that matches nothing any more is reported as fixed (a warning that
never fails), so the file can be cleaned up.

    version: 1
    entries:
      - rule: request-property-enum-value-removed
        operation: createRefund
        location: /components/schemas/RefundMethod/enum
        reason: CHECK refunds were never settled; agreed with the apps team (PR 412)
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FORMAT_VERSION = 1


class BadBaseline(Exception):
    """The baseline file cannot be read: a usage error."""


@dataclass(frozen=True)
class Entry:
    rule: str
    operation: str | None
    location: str
    reason: str

    @property
    def key(self) -> tuple[str, str | None, str]:
        return self.rule, self.operation, self.location


def load(path: Path) -> list[Entry]:
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BadBaseline(f"baseline {path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise BadBaseline(f"baseline {path}: not a version {FORMAT_VERSION} baseline file")
    entries = []
    for index, raw in enumerate(document.get("entries") or []):
        fields = raw if isinstance(raw, dict) else {}
        rule, location, reason = fields.get("rule"), fields.get("location"), fields.get("reason")
        operation = fields.get("operation")
        if not (isinstance(rule, str) and isinstance(location, str)):
            raise BadBaseline(f"baseline {path}: entry {index + 1} needs a rule and a location")
        if not isinstance(reason, str) or not reason.strip():
            raise BadBaseline(f"baseline {path}: entry {index + 1} ({rule}) gives no reason")
        if operation is not None and not isinstance(operation, str):
            raise BadBaseline(f"baseline {path}: entry {index + 1}: operation is not a string")
        entries.append(Entry(rule, operation, location, reason))
    return entries


def by_key(entries: Iterable[Entry]) -> dict[tuple[str, str | None, str], Entry]:
    """The entries as a finding finds its own: by rule, operation and location."""
    return {entry.key: entry for entry in entries}


def write(path: Path, entries: Iterable[Entry]) -> None:
    document = {
        "version": FORMAT_VERSION,
        "entries": [
            {
                "rule": entry.rule,
                "operation": entry.operation,
                "location": entry.location,
                "reason": entry.reason,
            }
            for entry in sorted(set(entries), key=lambda entry: (entry.rule, str(entry.key)))
        ],
    }
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(text, encoding="utf-8")


def default_reason(today: datetime.date) -> str:
    return f"accepted on {today.isoformat()} (no reason given: say why here)"
