"""A report as text, Markdown (a PR comment or job summary), JSON, JUnit XML or GitHub workflow
annotations."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from conformance.changes.findings import Finding, Report
from conformance.changes.rules import RULES, Level

FORMATS = ("text", "markdown", "json", "junit", "github")


def render(report: Report, form: str) -> str:
    renderers: dict[str, Callable[[Report], str]] = {
        "text": text,
        "markdown": markdown,
        "json": as_json,
        "junit": junit,
        "github": github,
    }
    return renderers[form](report)


def _ordered(report: Report) -> list[Finding]:
    # What counts first, most severe first; explained, baselined or announced ones after.
    return sorted(
        report.findings, key=lambda f: (not f.can_fail, -f.level.rank, f.file, f.line or 0)
    )


def _marks(finding: Finding) -> str:
    marks = []
    if finding.baselined is not None:
        marks.append(f"baselined: {finding.baselined}")
    if finding.announced is not None:
        marks.append(finding.announced)
    if finding.status is not None:
        marks.append(f"{finding.status}, {finding.direction}")
    return f" [{'; '.join(marks)}]" if marks else ""


def _place(finding: Finding) -> str:
    line = f":{finding.line}" if finding.line else ""
    place = f"{finding.file}{line} {finding.location}".strip()
    return f"{place} (in NEW: {finding.in_new})" if finding.in_new else place


def _headline(report: Report) -> str:
    counts = report.summary()
    said = ", ".join(f"{counts[level.value]} {level.value}" for level in Level)
    return f"refund-contract {report.command} {report.base} {report.new}: {said}"


def text(report: Report) -> str:
    lines = []
    for finding in _ordered(report):
        lines.append(finding.text + _marks(finding))
        lines.append(f"    at {_place(finding)}")
    lines.append(_headline(report))
    return "\n".join(lines) + "\n"


def markdown(report: Report) -> str:
    counts = report.summary()
    title = "Contract changes" if report.command == "diff" else "Drift from the vendor's document"
    lines = [
        f"### {title}: `{report.new}` against `{report.base}`",
        "",
        " · ".join(f"**{counts[level.value]}** {level.value}" for level in Level),
        "",
    ]
    if not report.findings:
        lines.append("No differences.")
        return "\n".join(lines) + "\n"
    lines += ["| Level | Rule | Operation | Change | Where |", "| --- | --- | --- | --- | --- |"]
    for finding in _ordered(report):
        operation = finding.operation.label if finding.operation else ""
        lines.append(
            f"| {finding.level} | `{finding.rule}` | {_cell(operation)} | "
            f"{_cell(finding.message + _marks(finding))} | `{_cell(_place(finding))}` |"
        )
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def as_dict(report: Report) -> dict[str, Any]:
    findings = []
    for finding in _ordered(report):
        entry: dict[str, Any] = {
            "id": finding.rule,
            "level": finding.level.value,
            "operation": (
                {
                    "id": finding.operation.id,
                    "method": finding.operation.method,
                    "path": finding.operation.path,
                }
                if finding.operation
                else None
            ),
            "file": finding.file,
            "side": finding.side,
            "location": finding.location,
            "line": finding.line,
            "message": finding.message,
        }
        if finding.baselined is not None:
            entry["baselined"] = finding.baselined
        if finding.announced is not None:
            entry["announced"] = finding.announced
        if finding.status is not None:
            entry["status"] = finding.status
            entry["direction"] = finding.direction
        findings.append(entry)
    return {
        "command": report.command,
        "base": report.base,
        "new": report.new,
        "summary": report.summary(),
        "findings": findings,
    }


def as_json(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2, ensure_ascii=False) + "\n"


def junit(report: Report) -> str:
    """A test case per operation (and one for the document), failed by the findings that
    count at error or warning level."""
    grouped: dict[str, list[Finding]] = {}
    for finding in _ordered(report):
        name = finding.operation.label if finding.operation else "(document)"
        grouped.setdefault(name, []).append(finding)
    suite = ElementTree.Element(
        "testsuite",
        name=f"refund-contract {report.command}",
        tests=str(len(grouped)),
    )
    failures = 0
    for name, findings in grouped.items():
        case = ElementTree.SubElement(
            suite, "testcase", classname=f"refund-contract.{report.command}", name=name
        )
        failing = [f for f in findings if f.can_fail and f.level is not Level.INFO]
        body = "\n".join(f"{f.text}{_marks(f)} ({_place(f)})" for f in findings)
        if failing:
            failures += 1
            element = ElementTree.SubElement(
                case, "failure", message=failing[0].text, type=failing[0].rule
            )
            element.text = body
        else:
            ElementTree.SubElement(case, "system-out").text = body
    suite.set("failures", str(failures))
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def github(report: Report) -> str:
    """Workflow commands: each finding an annotation at its file and line."""
    command = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "notice"}
    lines = []
    for finding in _ordered(report):
        level = finding.level if finding.can_fail else Level.INFO
        # On the pull request's files: what NEW lost is shown where NEW lost it.
        file, line = finding.file, finding.line
        if finding.in_new is not None:
            file, _, number = finding.in_new.rpartition(":")
            line = int(number)
        where = [f"file={_escape(file, True)}"] if file else []
        if line:
            where.append(f"line={line}")
        where.append(f"title={_escape(finding.rule, True)}")
        message = finding.text + _marks(finding)
        lines.append(f"::{command[level]} {','.join(where)}::{_escape(message, False)}")
    lines.append(_headline(report))
    return "\n".join(lines) + "\n"


def _escape(value: str, property_value: bool) -> str:
    # GitHub's workflow command escaping; properties also escape ':' and ','.
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def render_rules(form: str) -> str:
    """The rule catalogue, most severe first."""
    rules = sorted(RULES.values(), key=lambda rule: (-rule.level.rank, rule.id))
    if form == "json":
        listed = [
            {"id": r.id, "level": r.level.value, "effect": r.effect.value, "summary": r.summary}
            for r in rules
        ]
        return json.dumps(listed, indent=2) + "\n"
    if form == "markdown":
        lines = ["| Rule | Level | Change |", "| --- | --- | --- |"]
        lines += [f"| `{r.id}` | {r.level} | {r.summary} |" for r in rules]
        return "\n".join(lines) + "\n"
    width = max(len(rule.id) for rule in rules)
    return "".join(f"{r.level:<8}{r.id:<{width + 2}}{r.summary}\n" for r in rules)
