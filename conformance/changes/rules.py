"""The catalogue of findings: every rule's stable id, its level, and what kind of change it is.

One principle sets the levels. A request travels from client to server, so a *narrower* request
schema in NEW refuses requests BASE accepted: an error. A response travels the other way, so a
*wider* response schema lets NEW send what BASE promised it would not: an error. The opposite
moves are compatible (info). A few changes break only some clients (warning), named in
``_OVERRIDES``.

``Effect`` says how NEW's set of valid messages moved against BASE's; drift reads it to say who
accepts or returns more, the vendor or us.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


class Effect(StrEnum):
    NARROWER = "narrower"  # NEW allows less than BASE
    WIDER = "wider"  # NEW allows more
    DIFFERENT = "different"  # neither contains the other
    NEUTRAL = "neutral"  # no message changes validity (names, defaults, deprecation)


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    effect: Effect
    summary: str


# Changes to what one value may be: a parameter's, a header's, a body's or a property's.
# kind -> (effect, summary)
VALUE_KINDS: dict[str, tuple[Effect, str]] = {
    "type-narrowed": (Effect.NARROWER, "fewer types allowed"),
    "type-widened": (Effect.WIDER, "more types allowed"),
    "type-changed": (Effect.DIFFERENT, "type changed"),
    "became-nullable": (Effect.WIDER, "null allowed"),
    "became-not-nullable": (Effect.NARROWER, "null no longer allowed"),
    "format-added": (Effect.NARROWER, "format added"),
    "format-removed": (Effect.WIDER, "format removed"),
    "format-changed": (Effect.DIFFERENT, "format changed"),
    "enum-value-removed": (Effect.NARROWER, "enum value removed"),
    "enum-value-added": (Effect.WIDER, "enum value added"),
    "enum-added": (Effect.NARROWER, "restricted to an enum"),
    "enum-removed": (Effect.WIDER, "no longer restricted to an enum"),
    "max-decreased": (Effect.NARROWER, "maximum lowered, added or made exclusive"),
    "max-increased": (Effect.WIDER, "maximum raised or removed"),
    "min-increased": (Effect.NARROWER, "minimum raised, added or made exclusive"),
    "min-decreased": (Effect.WIDER, "minimum lowered or removed"),
    "multiple-of-changed": (Effect.DIFFERENT, "multipleOf changed"),
    "max-length-decreased": (Effect.NARROWER, "maxLength lowered or added"),
    "max-length-increased": (Effect.WIDER, "maxLength raised or removed"),
    "min-length-increased": (Effect.NARROWER, "minLength raised or added"),
    "min-length-decreased": (Effect.WIDER, "minLength lowered or removed"),
    "pattern-added": (Effect.NARROWER, "pattern added"),
    "pattern-removed": (Effect.WIDER, "pattern removed"),
    "pattern-changed": (Effect.DIFFERENT, "pattern changed"),
    "max-items-decreased": (Effect.NARROWER, "maxItems lowered or added"),
    "max-items-increased": (Effect.WIDER, "maxItems raised or removed"),
    "min-items-increased": (Effect.NARROWER, "minItems raised or added"),
    "min-items-decreased": (Effect.WIDER, "minItems lowered or removed"),
    "variant-removed": (Effect.NARROWER, "a oneOf/anyOf alternative removed"),
    "variant-added": (Effect.WIDER, "a oneOf/anyOf alternative added"),
    "default-changed": (Effect.NEUTRAL, "default changed"),
}

# Changes to an object's members; reported as `<direction>-property-<kind>`.
OBJECT_KINDS: dict[str, tuple[Effect, str]] = {
    "removed": (Effect.NARROWER, "property removed"),
    "added": (Effect.WIDER, "optional property added"),
    "added-required": (Effect.NARROWER, "required property added"),
    "became-required": (Effect.NARROWER, "property made required"),
    "became-optional": (Effect.WIDER, "property made optional"),
    "additional-properties-narrowed": (Effect.NARROWER, "fewer undeclared properties allowed"),
    "additional-properties-widened": (Effect.WIDER, "more undeclared properties allowed"),
    "max-properties-decreased": (Effect.NARROWER, "maxProperties lowered or added"),
    "max-properties-increased": (Effect.WIDER, "maxProperties raised or removed"),
    "min-properties-increased": (Effect.NARROWER, "minProperties raised or added"),
    "min-properties-decreased": (Effect.WIDER, "minProperties lowered or removed"),
}

# What a value is, seen from a request or a response.
VALUE_SUBJECTS = {
    "request": ("parameter", "property"),
    "response": ("property", "header"),
}

# Rules about operations and their parts, beyond what one value may be.
# id -> (effect, summary); their level follows from the direction in the id unless overridden.
STRUCTURE_RULES: dict[str, tuple[Effect, str]] = {
    "path-removed": (Effect.NARROWER, "a path and its operations removed"),
    "path-added": (Effect.WIDER, "a path added"),
    "operation-removed": (Effect.NARROWER, "an operation removed"),
    "operation-added": (Effect.WIDER, "an operation added"),
    "operation-id-changed": (Effect.NEUTRAL, "operationId changed (generated clients rename)"),
    "operation-deprecated": (Effect.NEUTRAL, "deprecated, with a sunset date (x-sunset)"),
    "operation-deprecated-without-sunset": (Effect.NEUTRAL, "deprecated without x-sunset"),
    "operation-security-narrowed": (Effect.NARROWER, "a way to authenticate no longer accepted"),
    "operation-security-widened": (Effect.WIDER, "a new way to authenticate accepted"),
    "request-parameter-removed": (Effect.NARROWER, "a parameter removed"),
    "request-parameter-added": (Effect.WIDER, "an optional parameter added"),
    "request-parameter-added-required": (Effect.NARROWER, "a required parameter added"),
    "request-parameter-became-required": (Effect.NARROWER, "a parameter made required"),
    "request-parameter-became-optional": (Effect.WIDER, "a parameter made optional"),
    "request-parameter-style-changed": (Effect.DIFFERENT, "a parameter's style or explode changed"),
    "request-body-removed": (Effect.NARROWER, "the request body removed"),
    "request-body-added": (Effect.WIDER, "an optional request body added"),
    "request-body-added-required": (Effect.NARROWER, "a required request body added"),
    "request-body-became-required": (Effect.NARROWER, "the request body made required"),
    "request-body-became-optional": (Effect.WIDER, "the request body made optional"),
    "request-media-type-removed": (Effect.NARROWER, "a request media type removed"),
    "request-media-type-added": (Effect.WIDER, "a request media type added"),
    "response-success-status-removed": (Effect.NARROWER, "a success status removed"),
    "response-success-status-added": (Effect.WIDER, "a success status added"),
    "response-error-status-removed": (Effect.NARROWER, "an error status removed"),
    "response-error-status-added": (Effect.WIDER, "an error status added"),
    "response-media-type-removed": (Effect.NARROWER, "a response media type removed"),
    "response-media-type-added": (Effect.WIDER, "a response media type added"),
    "response-header-removed": (Effect.NARROWER, "a response header removed"),
    "response-header-added": (Effect.WIDER, "a response header added"),
    "response-header-became-optional": (Effect.WIDER, "a response header made optional"),
    "response-header-became-required": (Effect.NARROWER, "a response header made required"),
    "version-not-bumped": (Effect.NEUTRAL, "a breaking change without a version bump"),
    "baseline-entry-fixed": (Effect.NEUTRAL, "a baseline entry no longer matches any finding"),
}

_OVERRIDES: dict[str, Level] = {
    # Clients that switch over a response enum meet a value they do not know; most cope.
    "response-property-enum-value-added": Level.WARNING,
    "response-header-enum-value-added": Level.WARNING,
    # A server that ignores unknown members keeps working for clients still sending them.
    "request-property-removed": Level.WARNING,
    "request-parameter-removed": Level.WARNING,
    "request-body-removed": Level.WARNING,
    # New success statuses and new error statuses: the first may surprise a client.
    "response-success-status-added": Level.WARNING,
    "response-success-status-removed": Level.ERROR,
    "response-error-status-removed": Level.INFO,
    "response-error-status-added": Level.INFO,
    "response-media-type-added": Level.INFO,
    # A client that parsed the body it was promised finds none, or another format.
    "response-media-type-removed": Level.ERROR,
    "response-header-added": Level.INFO,
    "response-property-added": Level.INFO,
    "response-property-added-required": Level.INFO,
    "response-property-removed": Level.ERROR,
    "response-header-removed": Level.ERROR,
    "operation-id-changed": Level.WARNING,
    "operation-deprecated": Level.INFO,
    "operation-deprecated-without-sunset": Level.WARNING,
    "request-parameter-default-changed": Level.WARNING,
    "request-property-default-changed": Level.WARNING,
    "response-property-default-changed": Level.INFO,
    "response-header-default-changed": Level.INFO,
    "version-not-bumped": Level.ERROR,
    "baseline-entry-fixed": Level.WARNING,
}


def _level(rule_id: str, effect: Effect) -> Level:
    if rule_id in _OVERRIDES:
        return _OVERRIDES[rule_id]
    if effect is Effect.DIFFERENT:
        return Level.ERROR
    breaking = Effect.WIDER if rule_id.startswith("response-") else Effect.NARROWER
    # Operations, paths and security are request-side: a removed one refuses requests.
    return Level.ERROR if effect is breaking else Level.INFO


def _catalogue() -> dict[str, Rule]:
    entries: dict[str, tuple[Effect, str]] = dict(STRUCTURE_RULES)
    for direction, subjects in VALUE_SUBJECTS.items():
        for subject in subjects:
            for kind, entry in VALUE_KINDS.items():
                entries[f"{direction}-{subject}-{kind}"] = entry
        for kind, entry in OBJECT_KINDS.items():
            entries[f"{direction}-property-{kind}"] = entry
    return {
        rule_id: Rule(rule_id, _level(rule_id, effect), effect, summary)
        for rule_id, (effect, summary) in entries.items()
    }


RULES: dict[str, Rule] = _catalogue()
