"""The two questions: what NEW breaks for BASE's clients (``diff``), and where our contract
differs from the vendor's published document (``drift``)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from conformance.changes import versions
from conformance.changes.documents import Documents, Source, UnreadableDocument
from conformance.changes.findings import Finding, Report, placed
from conformance.changes.operations import (
    DocumentComparer,
    OperationNode,
    Raw,
    operations,
    server_prefixes,
    template_key,
    unique,
)
from conformance.changes.rules import RULES, Effect, Level

ASSUMPTION = "x-mock-assumption"


def diff(
    base_source: Source,
    new_source: Source,
    *,
    check_version: bool = True,
    allow_announced: bool = False,
) -> Report:
    base, new = Documents(base_source), Documents(new_source)
    comparer = DocumentComparer(base, new)
    base_ops, new_ops = operations(base), operations(new)
    pairs = [(old, new_ops[key]) for key, old in base_ops.items() if key in new_ops]
    raws = unique([*comparer.structure(base_ops, new_ops), *comparer.matched(pairs)])
    report = Report("diff", base_source.name, new_source.name, placed(raws, base, new))
    breaking = [finding for finding in report.findings if finding.level is Level.ERROR]
    verdict = versions.verdict(base.version, new.version)
    if not breaking:
        return report
    if check_version and verdict is versions.Verdict.NOT_ANNOUNCED:
        report.findings.extend(placed([_not_bumped(len(breaking), base, new)], base, new))
    if allow_announced and verdict in (versions.Verdict.ANNOUNCED, versions.Verdict.EXEMPT):
        said = f"announced by info.version {new.version!r}"
        report.findings = [
            dataclasses.replace(finding, announced=said) if finding in breaking else finding
            for finding in report.findings
        ]
    return report


def _not_bumped(breaking: int, base: Documents, new: Documents) -> Raw:
    return Raw(
        "version-not-bumped",
        None,
        "new",
        new.source.uri,
        "/info/version",
        f"{breaking} breaking change(s), and info.version went from {base.version!r} to "
        f"{new.version!r}: raise the -mock.N counter (our contracts) or the major version",
    )


# --- drift ----------------------------------------------------------------------------------
# Names, defaults of documentation and deprecation differ between any two writers of a document.
_NOT_DRIFT = {"operation-id-changed", "operation-deprecated", "operation-deprecated-without-sunset"}


def drift(ours_source: Source, vendor_source: Source) -> Report:
    """Our contract (NEW) against the vendor's document (BASE), on the operations both have."""
    vendor, ours = Documents(vendor_source), Documents(ours_source)
    comparer = DocumentComparer(vendor, ours)
    pairs = list(_shared_operations(vendor, ours))
    if not pairs:  # a wrong API or a wrong file: nothing compared is no verdict
        raise UnreadableDocument(
            f"no operation of {vendor_source.name} matches one of {ours_source.name} "
            "(by method and path template): is it the document of this API?"
        )
    raws = unique(raw for raw in comparer.matched(pairs) if raw.rule not in _NOT_DRIFT)
    findings = placed(raws, vendor, ours)
    judged = [_judged(finding, raw, ours) for finding, raw in zip(findings, raws, strict=True)]
    return Report("drift", vendor_source.name, ours_source.name, judged)


def _shared_operations(
    vendor: Documents, ours: Documents
) -> Iterator[tuple[OperationNode, OperationNode]]:
    """Operations both documents describe, matched by method and path template, with or
    without each document's server path in front (`/v3/accounts` and `/accounts` under `/v3`)."""
    ours_ops = operations(ours)
    by_full_path: dict[tuple[str, str], OperationNode] = {}
    for prefix in server_prefixes(ours):
        for (method, path), op in ours_ops.items():
            by_full_path.setdefault((method, template_key(prefix + path)), op)
    vendor_prefixes = server_prefixes(vendor)
    for (method, path), op in operations(vendor).items():
        candidates = [(method, path)] + [
            (method, template_key(prefix + path)) for prefix in vendor_prefixes
        ]
        match = ours_ops.get((method, path)) or next(
            (by_full_path[key] for key in candidates if key in by_full_path), None
        )
        if match is not None:
            yield op, match


def _judged(finding: Finding, raw: Raw, ours: Documents) -> Finding:
    """A diff finding read as drift: who allows more, how much it matters, whether our contract
    explains it."""
    effect = RULES[finding.rule].effect
    response = finding.rule.startswith("response-")
    if effect is Effect.NARROWER:
        direction = "vendor-only"  # the vendor accepts or returns what we do not
        level = Level.WARNING if response else Level.ERROR
    elif effect is Effect.WIDER:
        direction, level = "ours-only", Level.INFO
    else:
        direction = "both-differ"
        level = Level.WARNING if response or effect is Effect.NEUTRAL else Level.ERROR
    # Where the difference is in our contract, or (for what we lack) the element that lacks it.
    places = [(raw.uri, raw.pointer, True)] if raw.side == "new" else []
    places += [(*raw.anchor, False)] if raw.anchor else []
    subjects = _subjects(raw.message)
    explained = any(_explained(ours, *place, subjects) for place in places)
    status = "explained" if explained else "drift"
    return dataclasses.replace(finding, level=level, status=status, direction=direction)


# Keywords a pointer may end in: a finding there is about the schema or parameter holding it.
_KEYWORDS = frozenset(
    {
        *("type", "format", "enum", "const", "pattern", "nullable", "default", "required"),
        *("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
        *("minLength", "maxLength", "minItems", "maxItems", "uniqueItems"),
        *("minProperties", "maxProperties", "readOnly", "writeOnly", "deprecated"),
        *("style", "explode", "allowEmptyValue", "allowReserved"),
    }
)
_QUOTED = re.compile(r"'([^']+)'|\"((?:[^\"\\]|\\.)*)\"")


def _subjects(message: str) -> set[str]:
    """What a finding is about, as its message quotes it: a property's own name (the last of
    its path), a parameter's name, an enum value."""
    found = set()
    for named, value in _QUOTED.findall(message):
        if named:
            found.add(re.split(r"[.\[\]]+", named.strip(".[]"))[-1])
        elif value:
            found.add(value)
    return found


def _explained(ours: Documents, uri: str, pointer: str, own: bool, subjects: set[str]) -> bool:
    """Whether an x-mock-assumption explains the difference at ``pointer``: one on the element
    itself (``own``: the schema, parameter or operation the pointer names, or the one holding
    the keyword it names), or one enclosing it, up to its component or operation, that names
    what differs in backquotes (`` `name` ``). A note about something else near it explains
    nothing: for what we lack, ``pointer`` is the element that lacks it, so its note must
    name it."""
    tokens = pointer.split("/")[1:]
    # /paths/{path}/{method} and /components/{kind}/{name} are three tokens deep: the operation
    # or component is the highest note that may explain what is inside it (by naming it).
    highest = 3 if tokens[:1] in (["paths"], ["components"]) else 1
    itself = _element_depth(tokens) if own else len(tokens) + 1
    for depth in range(len(tokens), highest - 1, -1):
        value = ours.at(uri, "/".join(["", *tokens[:depth]]))
        note = str(value.get(ASSUMPTION, "")) if isinstance(value, dict) else ""
        if note and (depth >= itself or any(f"`{name}`" in note for name in subjects)):
            return True
    return False


def _element_depth(tokens: list[str]) -> int:
    """How deep the element a pointer is about lies: the pointer's own node, or the node
    holding the keyword it ends in (``.../maxLength``, ``.../enum/3``)."""
    depth = len(tokens)
    if depth >= 2 and tokens[depth - 1].isdigit() and tokens[depth - 2] in _KEYWORDS:
        depth -= 2
    elif depth >= 1 and tokens[depth - 1] in _KEYWORDS:
        depth -= 1
    if depth >= 1 and tokens[depth - 1] == "schema":  # a parameter's or a media type's schema
        depth -= 1
    return depth
