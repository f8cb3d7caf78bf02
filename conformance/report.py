"""The console report: per operation which checks ran and passed; per violation the check, what
the contract expects, what came back, and a curl line that reproduces it."""

from __future__ import annotations

import functools
import re
import textwrap
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance import baseline
from conformance.apis import APIS
from conformance.checks import ALL as SUITE_CHECKS
from conformance.http import Exchange, curl
from conformance.options import (
    EXIT_CONFORMS,
    EXIT_INCONCLUSIVE,
    EXIT_VIOLATIONS,
    RunOptions,
    redact,
)

BUILT_IN_CHECKS = (
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "allow_header_conformance",
    "ignored_auth",
)
_OPERATION = re.compile(r"\[((?:GET|POST|PUT|PATCH|DELETE) [^\]]+)\]")
_CURL = re.compile(r"(curl -X [^\n]+)")
_RESPONSE = re.compile(r"\[(\d{3})\] ([^\n]*):\s*\n\s*`([^\n]*)`")


BODY_LIMIT = 300  # characters of a response body a violation shows


@dataclass
class Violation:
    check: str  # Schemathesis' check, or the behaviour rule's test name: stable, for baselines
    expected: str
    got: str
    reproduce: str | None
    rule_based: bool = False  # a behaviour rule's assertion, not a check of one response

    @property
    def sentence(self) -> str:
        """The violation in one line, for a JUnit failure message or a CI annotation: what was
        expected, and what came back (its status and the start of its body)."""
        got = " ".join(self.got.split()) or "nothing"
        expected = self.expected.splitlines()[0] if self.expected else ""
        said = f"expected {expected}" if self.rule_based else f"{self.check}: {expected}"
        return _shorten(f"{said.rstrip(': ')}; got {got}", BODY_LIMIT)


def finding_key(outcome: Outcome, violation: Violation) -> tuple[str, str | None, str]:
    """What identifies a finding from run to run, for baselines: the check or rule, the test
    it was found in (``test_contract[POST /accounts/{account_token}/refunds]``), and for a
    schema failure the part of the schema (``Schema at /properties/amount/minimum``): never
    a message, which holds the generated values that showed it."""
    schema_part = next(
        (line for line in violation.expected.splitlines() if line.startswith("Schema at")), ""
    )
    return violation.check, outcome.name or outcome.title, schema_part


@dataclass
class Outcome:
    kind: str  # "operation", "sequence" or "behaviour"
    title: str
    status: str  # "passed", "failed" or "skipped"
    name: str = ""  # the test's own name, as stable as the suite: baselines are keyed by it
    reason: str = ""
    violations: list[Violation] = field(default_factory=list)
    # A skip the user chose (--read-only) or that cannot apply to this target: it leaves the
    # verdict conclusive. Other skips (a time limit, missing setup data) make it inconclusive.
    skipped_by_choice: bool = False
    not_applicable: bool = False  # needs state only this kit's mock can make


def outcome_of(
    item: pytest.Item,
    report: pytest.TestReport,
    call: pytest.CallInfo[Any],
    secrets: list[str],
    skip_by_choice: bool = False,
    not_applicable: bool = False,
) -> Outcome:
    kind, title = _describe(item)
    outcome = Outcome(kind=kind, title=title, status=report.outcome, name=item.name)
    if report.skipped:
        outcome.reason = _skip_reason(report)
        outcome.skipped_by_choice = skip_by_choice or not_applicable
        outcome.not_applicable = not_applicable
    elif report.failed and call.excinfo is not None:
        outcome.violations = _violations(item, call.excinfo.value)
    return outcome


def _skip_reason(report: pytest.TestReport) -> str:
    """The reason alone (a skip's report is a (path, line, "Skipped: reason") tuple)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else report.longreprtext
    return str(text).removeprefix("Skipped: ").strip()


@dataclass(frozen=True)
class Verdict:
    word: str  # CONFORMS, DOES NOT CONFORM, INCONCLUSIVE
    exit_status: int
    why: str = ""  # for an inconclusive run: what did not run


def _describe(item: pytest.Item) -> tuple[str, str]:
    operation = _OPERATION.search(item.name)
    if operation:
        return "operation", operation.group(1)
    cls = getattr(item, "cls", None)
    if cls is not None and "Sequences" in cls.__name__:
        return "sequence", (cls.__doc__ or cls.__name__).strip().splitlines()[0]
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
    found = contract_violations(error, last, reproduce)
    if found is not None:
        return found
    # A behaviour test: its docstring is the rule (what was expected), its assertion what
    # went wrong, and its last exchange what the target answered.
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    if last is not None:
        first_line += f"\nresponse {last.status}: {_shorten(last.response_text, BODY_LIMIT)}"
    function = getattr(item, "function", None)
    rule = (getattr(function, "__doc__", None) or "").strip()
    return [
        Violation(
            check=getattr(item, "originalname", item.name),
            expected=" ".join(rule.split("\n\n")[0].split()),
            got=first_line,
            reproduce=reproduce,
            rule_based=True,
        )
    ]


def contract_violations(
    error: BaseException, last: Exchange | None, reproduce: str | None
) -> list[Violation] | None:
    """The violations a contract failure says, each under its check's name; None when
    ``error`` is not one. Contract failures (Schemathesis' own, or raised by the behaviour
    tests' checking client) come with a title and a message; a behaviour test's assertion
    names the rule it broke instead."""
    response = _RESPONSE.search(str(error))
    if response:
        got = f"{response.group(1)} {response.group(2)}: {response.group(3)}"
    elif last is not None:
        got = f"{last.status}: {_shorten(last.response_text)}"
    else:
        got = ""
    failures = getattr(error, "exceptions", None) or [error]
    if not all(hasattr(failure, "title") for failure in failures):
        return None
    return [
        Violation(
            check=f"{getattr(failure, 'code', '')} {failure.title}".strip(),
            # A check that says nothing more (a server error) expects its opposite.
            expected=_expected(str(getattr(failure, "message", "")))
            or f"no {failure.title[:1].lower()}{failure.title[1:]}",
            got=got,
            reproduce=reproduce,
        )
        for failure in failures
    ]


def _last_exchange(item: pytest.Item) -> Exchange | None:
    """The last request a behaviour test's clients made: it reproduces the failure."""
    clients = [getattr(item, "funcargs", {}).get(name) for name in ("client", "anonymous")]
    exchanges: list[Exchange] = [
        exchange for client in clients if (exchange := getattr(client, "last", None)) is not None
    ]
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
    mock_session: str | None = None  # the run's session on this kit's mock
    mock_session_expiry: float | None = None  # seconds unused after which the mock deletes it
    known: list[baseline.Entry] = field(default_factory=list)  # --baseline
    given_back: list[str] = field(default_factory=list)  # what the run gave back, and left
    # verify-traffic: the file its exchanges came from, and how many; None for a run
    traffic: str | None = None
    checked: list[str] | None = None  # the checks applied, when not a run's

    def reason_known(self, outcome: Outcome, violation: Violation) -> str | None:
        """Why a baseline accepts this finding; None when it is new."""
        entry = self._known_by_key.get(finding_key(outcome, violation))
        return entry.reason if entry is not None else None

    @functools.cached_property
    def _known_by_key(self) -> dict[tuple[str, str | None, str], baseline.Entry]:
        return baseline.by_key(self.known)

    def is_new_failure(self, outcome: Outcome) -> bool:
        return outcome.status == "failed" and (
            not outcome.violations
            or any(self.reason_known(outcome, v) is None for v in outcome.violations)
        )

    def fixed(self) -> list[baseline.Entry]:
        """Baseline entries whose test ran and passed: what they accepted is gone. An entry
        whose test did not run (a time limit, --read-only) is not judged."""
        passed = {outcome.name for outcome in self.outcomes if outcome.status == "passed"}
        return [entry for entry in self.known if entry.operation in passed]

    def baseline_entries(self, reason: str) -> list[baseline.Entry]:
        """This run's findings (a known one keeping its reason), and the known entries this
        run could not judge."""
        found = [
            baseline.Entry(*finding_key(o, v), self.reason_known(o, v) or reason)
            for o in self.outcomes
            for v in o.violations
        ]
        ran = {outcome.name for outcome in self.outcomes if outcome.status != "skipped"}
        return found + [entry for entry in self.known if entry.operation not in ran]

    def lines(self) -> list[str]:
        lines = ["", "=" * 78, f"Conformance of {self.api} at {self.base_url}"]
        if self.traffic is not None:
            lines.append(f"recorded traffic: {self.traffic}")
        setup = (
            f"this kit's mock ({self.mock_control})"
            if self.mock_control
            else (
                f"setup data file {self.options.setup_data}" if self.options.setup_data else "none"
            )
        )
        if self.traffic is None:
            lines.append(
                f"setup data: {setup}; max examples {self.options.max_examples}; seed "
                f"{self.options.seed if self.options.seed is not None else 'random'}"
                + ("; read-only" if self.options.read_only else "")
            )
        checks = ", ".join(self.checked or (*BUILT_IN_CHECKS, *_suite_checks(self.api)))
        lines += textwrap.wrap(
            f"checks on every {'generated' if self.traffic is None else 'recorded'} response:"
            f" {checks}",
            width=78,
            subsequent_indent="  ",
        )
        for kind, heading in (
            (
                "operation",
                "Operations (recorded exchanges)"
                if self.traffic is not None
                else "Operations (property tests)",
            ),
            ("sequence", "Linked sequences (stateful tests)"),
            ("behaviour", "Behaviour"),
        ):
            chosen = [o for o in self.outcomes if o.kind == kind]
            if not chosen:
                continue
            lines += ["", heading]
            for outcome in chosen:
                mark = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[outcome.status]
                mark = "N/A " if outcome.not_applicable else mark
                suffix = f"  ({outcome.reason})" if outcome.reason else ""
                lines.append(f"  {mark}  {outcome.title}{suffix}")
        groups = self.violation_groups()
        if groups:
            count = sum(len(group.hits) for group in groups)
            lines += ["", f"Violations ({count}, {len(groups)} distinct)"]
            for number, group in enumerate(groups, 1):
                first, violation = group.hits[0]
                where = first.title if len(group.hits) == 1 else f"{len(group.hits)} tests"
                lines.append(f"  {number}. {violation.check}: {where}")
                if len(group.hits) > 1:
                    titles = list(dict.fromkeys(outcome.title for outcome, _ in group.hits))
                    lines.append("     hit by:   " + _indent("\n".join(titles)))
                if violation.expected:
                    lines.append("     expected: " + _indent(violation.expected))
                if violation.got:
                    lines.append("     got:      " + _indent(violation.got))
                if violation.reproduce:
                    lines.append("     reproduce: " + violation.reproduce)
                reasons = [self.reason_known(outcome, hit) for outcome, hit in group.hits]
                if any(reasons):
                    said = next(reason for reason in reasons if reason)
                    if not all(reasons):
                        said += f" (in {sum(map(bool, reasons))} of {len(reasons)} tests)"
                    lines.append("     known:    " + _indent(f"{said} (--baseline)"))
        fixed = self.fixed()
        if fixed:
            lines += ["", f"Baseline entries found no more ({len(fixed)}): remove them"]
            lines += [f"  {entry.rule}: {entry.operation} ({entry.location})" for entry in fixed]
        verdict = self.verdict()
        classes = ", ".join(f"{name} {count}" for name, count in sorted(self.answered.items()))
        if self.traffic is None:
            lines += [
                "",
                f"generated requests: {sum(self.answered.values())}"
                + (f" ({classes})" if classes else ""),
            ]
        for line in self.given_back:
            lines += textwrap.wrap(line, width=78)
        if verdict.why:
            lines += textwrap.wrap(verdict.why, width=78)
        if self.mock_session and verdict.exit_status == EXIT_VIOLATIONS:
            expiry = (
                f" The mock deletes it after {_duration(self.mock_session_expiry)} unused"
                " (--session-expire)."
                if self.mock_session_expiry
                else " It does not expire."
            )
            lines += textwrap.wrap(
                f"The run's state is kept in the mock's session {self.mock_session}, which the"
                " curl lines name, so that they reproduce; remove it with DELETE"
                f" {self.mock_control}/sessions/{self.mock_session}.{expiry}",
                width=78,
            )
        lines += [f"{verdict.word}: {self.tally()}", "=" * 78]
        return lines

    def counts(self) -> tuple[int, int, int]:
        """(failed, passed, skipped); a failure the baseline knows all of is not counted."""
        statuses = [outcome.status for outcome in self.outcomes]
        failed = sum(1 for outcome in self.outcomes if self.is_new_failure(outcome))
        return failed, statuses.count("passed"), statuses.count("skipped")

    def tally(self) -> str:
        """Every test once, in one line that adds up."""
        failed, passed, _ = self.counts()
        skipped = [o for o in self.outcomes if o.status == "skipped"]
        not_applicable = sum(1 for o in skipped if o.not_applicable)
        chosen = sum(1 for o in skipped if o.skipped_by_choice and not o.not_applicable)
        parts = [f"{passed} passed", f"{failed} failed"]
        for count, label in (
            (self.known_count(), "failed with known findings only (--baseline)"),
            (len(skipped) - not_applicable - chosen, "did not run"),
            (chosen, "left out by choice"),
            (not_applicable, "not applicable to this target"),
        ):
            if count:
                parts.append(f"{count} {label}")
        return ", ".join(parts)

    def known_count(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "failed" and not self.is_new_failure(o))

    def verdict(self) -> Verdict:
        """What CI acts on: a failure is a violation; a run that left tests out for a reason
        the user did not choose (a time limit, missing setup data) has not shown conformance."""
        failed, passed, _ = self.counts()
        if failed:
            return Verdict("DOES NOT CONFORM", EXIT_VIOLATIONS)
        passed += self.known_count()  # ran, and found only what the baseline accepts
        unchosen = [o for o in self.outcomes if o.status == "skipped" and not o.skipped_by_choice]
        if self.traffic is not None and not self.outcomes:  # verify-traffic skips nothing
            why = (
                f"the file holds no exchange of an operation of the API under {self.base_url}:"
                " nothing was checked"
            )
            return Verdict("INCONCLUSIVE", EXIT_INCONCLUSIVE, why)
        if passed and not unchosen:
            return Verdict("CONFORMS", EXIT_CONFORMS)
        reasons = sorted({outcome.reason for outcome in unchosen}) or ["no test ran"]
        why = (
            f"{len(unchosen)} tests did not run ({'; '.join(reasons)}), so this run cannot"
            " say the target conforms"
        )
        if self.options.allow_skips and passed:
            return Verdict(
                "CONFORMS",
                EXIT_CONFORMS,
                why.replace("cannot", "does not") + (" in full (--allow-skips)"),
            )
        return Verdict(
            "INCONCLUSIVE", EXIT_INCONCLUSIVE, why + " (--allow-skips accepts such a run)"
        )

    def violation_groups(self) -> list[ViolationGroup]:
        """One entry per rule and cause (the check, and what it expected), with every test
        that hit it: one wrong answer seen by twelve tests is one finding, not twelve."""
        groups: dict[tuple[str, str], ViolationGroup] = {}
        for outcome in self.outcomes:
            for violation in _causes(outcome.violations):
                cause = violation.expected.splitlines()[0] if violation.expected else violation.got
                key = (violation.check, cause)
                groups.setdefault(key, ViolationGroup()).hits.append((outcome, violation))
        return list(groups.values())

    def write_junit(self, path: Path) -> None:
        """JUnit XML for CI: one suite named after the API, one case per operation, sequence
        and behaviour rule, named as the report names them; a failure carries what was
        expected, what came back and the curl line."""
        failed, _, skipped = self.counts()
        suite = ElementTree.Element(
            "testsuite",
            name=self.api,
            tests=str(len(self.outcomes)),
            failures=str(failed),
            errors="0",
            skipped=str(skipped),
        )
        ElementTree.SubElement(
            ElementTree.SubElement(suite, "properties"),
            "property",
            name="verdict",
            value=self.verdict().word,
        )
        for outcome in self.outcomes:
            case = ElementTree.SubElement(
                suite, "testcase", classname=f"{self.api}.{outcome.kind}", name=outcome.title
            )
            if outcome.status == "skipped":
                ElementTree.SubElement(case, "skipped", message=outcome.reason)
            for violation in outcome.violations:
                reason = self.reason_known(outcome, violation)
                if reason is not None:  # accepted: shown, never a failure
                    note = ElementTree.SubElement(case, "system-out")
                    note.text = f"known finding ({reason}): {violation.sentence}"
                    continue
                failure = ElementTree.SubElement(
                    case, "failure", message=violation.sentence, type=violation.check
                )
                failure.text = "\n".join(
                    f"{label}: {text}"
                    for label, text in (
                        ("expected", violation.expected),
                        ("got", violation.got),
                        ("reproduce", violation.reproduce or ""),
                    )
                    if text
                )
        root = ElementTree.Element("testsuites")
        root.append(suite)
        ElementTree.indent(root)
        xml = ElementTree.tostring(root, encoding="unicode")
        path.write_text(redact(xml, self.options.secrets) + "\n", encoding="utf-8")


UNDOCUMENTED_STATUS = ("Undocumented status", "success_status_documented")


def _causes(violations: list[Violation]) -> list[Violation]:
    """The violations, less those another one explains: a body checked against the
    ``default`` (error) schema only because its success status is undocumented."""
    if not any(name in v.check for v in violations for name in UNDOCUMENTED_STATUS):
        return violations
    return [v for v in violations if "schema" not in v.check.lower()]


@dataclass
class ViolationGroup:
    hits: list[tuple[Outcome, Violation]] = field(default_factory=list)


def _suite_checks(api: str) -> list[str]:
    """The suite's checks that apply to ``api`` (the others are named for the other vendor)."""
    others = [name for name in APIS if name != api]
    names = [check.__name__ for check in SUITE_CHECKS]
    return [name for name in names if not name.startswith(tuple(f"{o}_" for o in others))]


def _indent(text: str) -> str:
    return text.replace("\n", "\n               ")


def _duration(seconds: float) -> str:
    """``86400`` as ``24 h``, ``90`` as ``90 s``: how long, in the unit that reads best."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"
