"""Findings placed in their files, a run's report, and what decides its exit code."""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from conformance import baseline
from conformance.changes.documents import Documents
from conformance.changes.operations import Operation, Raw
from conformance.changes.rules import RULES, Level

Command = Literal["diff", "drift"]


@dataclass(frozen=True)
class Finding:
    rule: str
    level: Level
    operation: Operation | None
    file: str
    side: str  # "base" when it points at what BASE had and NEW lost, else "new"
    location: str  # JSON pointer into that side's file
    line: int | None
    message: str
    baselined: str | None = None  # the reason, when a baseline entry accepts it
    status: str | None = None  # drift: "drift" or "explained"
    direction: str | None = None  # drift: who allows more
    announced: str | None = None  # diff --allow-announced: the version that announces it
    # For what NEW lost (side "base"): the NEW element that lost it, as "file:line".
    in_new: str | None = None

    @property
    def key(self) -> tuple[str, str | None, str]:
        operation = self.operation
        named = (operation.id or f"{operation.method} {operation.path}") if operation else None
        return self.rule, named, self.location

    @property
    def can_fail(self) -> bool:
        """Whether it can fail the run: explained drift, baselined or announced findings and
        fixed baseline entries cannot."""
        accepted = self.baselined or self.announced or self.status == "explained"
        return not accepted and self.rule != "baseline-entry-fixed"

    @property
    def text(self) -> str:
        where = f"{self.operation.label}: " if self.operation else ""
        return f"{self.level} {self.rule} {where}{self.message}"


def placed(raws: Iterable[Raw], base: Documents, new: Documents) -> list[Finding]:
    """Each finding with its file and line (on the side it points at)."""
    found = []
    for raw in raws:
        documents = base if raw.side == "base" else new
        in_new = None
        if raw.side == "base" and raw.anchor is not None:
            line = new.line(*raw.anchor)
            in_new = f"{new.source.display(raw.anchor[0])}:{line or 1}"
        found.append(
            Finding(
                rule=raw.rule,
                level=RULES[raw.rule].level,
                operation=raw.operation,
                file=documents.source.display(raw.uri),
                side=raw.side,
                location=raw.pointer,
                line=documents.line(raw.uri, raw.pointer),
                message=raw.message,
                in_new=in_new,
            )
        )
    return found


@dataclass
class Report:
    command: Command
    base: str
    new: str
    findings: list[Finding]

    def summary(self) -> dict[str, int]:
        counted = Counter(finding.level.value for finding in self.findings if finding.can_fail)
        return {level.value: counted.get(level.value, 0) for level in Level}

    def fails(self, fail_on: Level) -> bool:
        return any(f.can_fail and f.level.rank >= fail_on.rank for f in self.findings)

    def apply_baseline(self, entries: list[baseline.Entry]) -> None:
        known = baseline.by_key(entries)
        matched: set[tuple[str, str | None, str]] = set()
        for index, finding in enumerate(self.findings):
            entry = known.get(finding.key)
            if entry is not None:
                matched.add(entry.key)
                self.findings[index] = dataclasses.replace(finding, baselined=entry.reason)
        for entry in entries:
            if entry.key not in matched:
                where = f" {entry.operation}" if entry.operation else ""
                self.findings.append(
                    Finding(
                        rule="baseline-entry-fixed",
                        level=RULES["baseline-entry-fixed"].level,
                        operation=None,
                        file="",
                        side="new",
                        location=entry.location,
                        line=None,
                        message=f"baseline entry {entry.rule}{where} at {entry.location} "
                        "matches no finding any more: remove it",
                    )
                )

    def baseline_entries(self, reason: str | None) -> list[baseline.Entry]:
        said = reason or baseline.default_reason(datetime.datetime.now(datetime.UTC).date())
        # A finding a baseline already accepted keeps the reason it was accepted for.
        return [
            baseline.Entry(*finding.key, finding.baselined or said)
            for finding in self.findings
            if finding.rule != "baseline-entry-fixed"
        ]
