"""The console report: per operation which checks ran and passed; per violation the check, what
the contract expects, what came back, and a curl line that reproduces it."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.checks import ALL as SUITE_CHECKS
from conformance.http import Exchange, curl
from conformance.options import RunOptions

BUILT_IN_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
)
_OPERATION = re.compile(r"\[((?:GET|POST|PUT|PATCH|DELETE) [^\]]+)\]")
_CURL = re.compile(r"(curl -X [^\n]+)")
_RESPONSE = re.compile(r"\[(\d{3})\] ([^\n]*):\s*\n\s*`([^\n]*)`")


@dataclass
class Violation:
    check: str
    expected: str
    got: str
    reproduce: str | None


@dataclass
class Outcome:
    kind: str  # "operation", "sequence" or "behaviour"
    title: str
    status: str  # "passed", "failed" or "skipped"
    reason: str = ""
    violations: list[Violation] = field(default_factory=list)


def outcome_of(
    item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[Any], secrets: list[str]
) -> Outcome:
    kind, title = _describe(item)
    outcome = Outcome(kind=kind, title=title, status=report.outcome)
    if report.skipped:
        outcome.reason = report.longreprtext.rsplit("Skipped: ", 1)[-1].strip()
    elif report.failed and call.excinfo is not None:
        outcome.violations = _violations(item, call.excinfo.value)
    return outcome


def _describe(item: pytest.Item) -> tuple[str, str]:
    operation = _OPERATION.search(item.name)
    if operation:
        return "operation", operation.group(1)
    if getattr(item, "cls", None) is not None and "Sequences" in item.cls.__name__:
        return "sequence", (item.cls.__doc__ or item.cls.__name__).strip().splitlines()[0]
    function = getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip()
    title = doc.splitlines()[0] if doc else item.name.removeprefix("test_").replace("_", " ")
    callspec = getattr(item, "callspec", None)
    return "behaviour", f"{title} [{callspec.id}]" if callspec is not None else title


def _violations(item: pytest.Item, error: BaseException) -> list[Violation]:
    text = str(error)
    last = _last_exchange(item)
    sent = _CURL.search(text)
    reproduce = sent.group(1) if sent else (curl(last) if last is not None else None)
    response = _RESPONSE.search(text)
    if response:
        got = f"{response.group(1)} {response.group(2)}: {response.group(3)}"
    elif last is not None:
        got = f"{last.status}: {_shorten(last.response_text)}"
    else:
        got = ""
    # Contract failures (Schemathesis' own, or raised by the behaviour tests' checking client)
    # come with a title and a message; a behaviour test's assertion names the rule it broke.
    failures = getattr(error, "exceptions", None) or [error]
    if all(hasattr(failure, "title") for failure in failures):
        return [
            Violation(
                check=f"{getattr(failure, 'code', '')} {failure.title}".strip(),
                expected=_expected(str(getattr(failure, "message", ""))),
                got=got,
                reproduce=reproduce,
            )
            for failure in failures
        ]
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return [
        Violation(
            check=getattr(item, "originalname", item.name),
            expected="",
            got=first_line,
            reproduce=reproduce,
        )
    ]


def _last_exchange(item: pytest.Item) -> Exchange | None:
    """The last request a behaviour test's clients made: it reproduces the failure."""
    clients = [getattr(item, "funcargs", {}).get(name) for name in ("client", "anonymous")]
    exchanges = [c.last for c in clients if getattr(c, "last", None) is not None]
    return max(exchanges, key=lambda exchange: exchange.sequence, default=None)


def _expected(message: str) -> str:
    """What the contract expects, without the schema and value dumps Schemathesis appends."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(lines) <= 4:
        return "\n".join(lines)
    kept = [lines[0]] + [
        line.rstrip(":") for line in lines[1:] if line.startswith(("Schema at", "Validated"))
    ]
    return "\n".join(kept)


def _shorten(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + " ..."


@dataclass
class Report:
    api: str
    base_url: str
    mock_control: str | None
    options: RunOptions
    outcomes: list[Outcome]
    answered: dict[str, int] = field(default_factory=dict)  # generated requests by status class

    def lines(self) -> list[str]:
        lines = ["", "=" * 78, f"Conformance of {self.api} at {self.base_url}"]
        setup = (
            f"this kit's mock ({self.mock_control})"
            if self.mock_control
            else (f"fixtures file {self.options.fixtures}" if self.options.fixtures else "none")
        )
        lines.append(
            f"setup data: {setup}; max examples {self.options.max_examples}; seed "
            f"{self.options.seed if self.options.seed is not None else 'random'}"
            + ("; read-only" if self.options.read_only else "")
        )
        checks = ", ".join((*BUILT_IN_CHECKS, *_suite_checks(self.api)))
        lines += textwrap.wrap(
            f"checks on every generated response: {checks}", width=78, subsequent_indent="  "
        )
        for kind, heading in (
            ("operation", "Operations (property tests)"),
            ("sequence", "Linked sequences (stateful tests)"),
            ("behaviour", "Behaviour"),
        ):
            chosen = [o for o in self.outcomes if o.kind == kind]
            if not chosen:
                continue
            lines += ["", heading]
            for outcome in chosen:
                mark = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[outcome.status]
                suffix = f"  ({outcome.reason})" if outcome.reason else ""
                lines.append(f"  {mark}  {outcome.title}{suffix}")
        violations = [(o, v) for o in self.outcomes for v in o.violations]
        if violations:
            lines += ["", f"Violations ({len(violations)})"]
            for number, (outcome, violation) in enumerate(violations, 1):
                lines.append(f"  {number}. {outcome.title} ({violation.check})")
                if violation.expected:
                    lines.append("     expected: " + _indent(violation.expected))
                if violation.got:
                    lines.append("     got:      " + _indent(violation.got))
                if violation.reproduce:
                    lines.append("     reproduce: " + violation.reproduce)
        failed = sum(o.status == "failed" for o in self.outcomes)
        passed = sum(o.status == "passed" for o in self.outcomes)
        skipped = sum(o.status == "skipped" for o in self.outcomes)
        verdict = "CONFORMS" if not failed else "DOES NOT CONFORM"
        classes = ", ".join(f"{name} {count}" for name, count in sorted(self.answered.items()))
        lines += [
            "",
            f"generated requests: {sum(self.answered.values())}"
            + (f" ({classes})" if classes else ""),
            f"{verdict}: {passed} passed, {failed} failed, {skipped} skipped",
            "=" * 78,
        ]
        return lines


def _suite_checks(api: str) -> list[str]:
    """The suite's checks that apply to ``api`` (the others are named for the other vendor)."""
    others = [name for name in ("marqeta", "balanced") if name != api]
    names = [check.__name__ for check in SUITE_CHECKS]
    return [name for name in names if not name.startswith(tuple(f"{o}_" for o in others))]


def _indent(text: str) -> str:
    return text.replace("\n", "\n               ")
