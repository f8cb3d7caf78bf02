"""What the proxy saw, for CI to act on: per operation, how many exchanges went through and how
many broke the contract, by rule (with a few of each rule's messages), as JSON
(``GET /__mock__/proxy/report``) or JUnit (``?format=junit``, ``--junit-xml FILE`` at
shutdown): one test case per operation, failed when any of its exchanges broke the contract."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any
from xml.etree import ElementTree

from mock_server.proxy.checks import Violation

EXAMPLES = 3  # messages kept per operation and rule
OUTSIDE = "(no operation)"  # requests no operation of the contract matched


class ProxyReport:
    def __init__(self, api: str, target: str) -> None:
        self.api = api
        self.target = target
        self._lock = threading.Lock()
        self._exchanges: Counter[str] = Counter()
        self._broken_exchanges: Counter[str] = Counter()  # exchanges with any violation
        self._unanswered: Counter[str] = Counter()  # the target down or too slow (502, 504)
        self._fallback: Counter[str] = Counter()  # answered by the mock: the target has it not
        self._broken: dict[str, Counter[str]] = defaultdict(Counter)
        self._examples: dict[tuple[str, str], list[str]] = defaultdict(list)

    def record(
        self,
        operation: str | None,
        violations: list[Violation],
        answered: bool = True,
        fell_back: bool = False,
    ) -> None:
        """One exchange: what it broke, whether the target answered it at all, and whether the
        mock answered it instead (the target does not implement the operation)."""
        name = operation or OUTSIDE
        with self._lock:
            self._exchanges[name] += 1
            self._broken_exchanges[name] += bool(violations)
            self._unanswered[name] += not answered
            self._fallback[name] += fell_back
            for violation in violations:
                self._broken[name][violation.rule] += 1
                examples = self._examples[(name, violation.rule)]
                if len(examples) < EXAMPLES:
                    examples.append(
                        f"{violation.direction} {violation.location}: {violation.message}"
                    )

    def json(self) -> dict[str, Any]:
        with self._lock:
            operations = {
                name: {
                    "exchanges": count,
                    "broken": self._broken_exchanges[name],
                    "unanswered": self._unanswered[name],
                    "fallback": self._fallback[name],
                    "violations": dict(sorted(self._broken[name].items())),
                    "examples": {
                        rule: list(self._examples[(name, rule)])
                        for rule in sorted(self._broken[name])
                    },
                }
                for name, count in sorted(self._exchanges.items())
            }
            exchanges = sum(self._exchanges.values())
            broken = sum(self._broken_exchanges.values())
            unanswered = sum(self._unanswered.values())
            fallback = sum(self._fallback.values())
            violations = sum(sum(rules.values()) for rules in self._broken.values())
        return {
            "api": self.api,
            "target": self.target,
            "exchanges": exchanges,
            "broken": broken,
            "unanswered": unanswered,
            "fallback": fallback,
            "violations": violations,
            "operations": operations,
        }

    def junit(self) -> str:
        report = self.json()
        operations = report["operations"]
        suite = ElementTree.Element(
            "testsuite",
            name=f"refund-mock proxy ({self.api} -> {self.target})",
            tests=str(len(operations)),
            failures=str(sum(1 for entry in operations.values() if entry["broken"])),
            errors=str(sum(1 for entry in operations.values() if entry["unanswered"])),
            skipped=str(
                sum(1 for entry in operations.values() if entry["fallback"] == entry["exchanges"])
            ),
        )
        for name, entry in report["operations"].items():
            case = ElementTree.SubElement(
                suite, "testcase", classname=f"proxy.{self.api}", name=name
            )
            if entry["fallback"] == entry["exchanges"]:  # the target has it not: no verdict
                ElementTree.SubElement(
                    case,
                    "skipped",
                    message=f"all {entry['exchanges']} exchanges were answered by the mock: the"
                    " target answered 501 or 405 (does not implement it)",
                )
            if entry["unanswered"]:  # no verdict on what never came: an error, not a pass
                ElementTree.SubElement(
                    case,
                    "error",
                    message=f"{entry['unanswered']} of {entry['exchanges']} exchanges got no"
                    " answer from the target (502 or 504: down or too slow)",
                )
            if entry["broken"]:
                counts = ", ".join(
                    f"{rule} x{count}" for rule, count in entry["violations"].items()
                )
                failure = ElementTree.SubElement(
                    case,
                    "failure",
                    message=f"{entry['broken']} of {entry['exchanges']}"
                    f" exchanges broke the contract: {counts}",
                )
                failure.text = "\n".join(
                    message for messages in entry["examples"].values() for message in messages
                )
        return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True)
