"""The vendor APIs the kit serves, mocks and checks: one line each (see ``mock_server.vendor``
for what a line holds, and docs/development.md for adding one).

A vendor may also come from another installed package, which names its ``Vendor`` under the
entry point group ``refund_contract_kit.vendors`` (``name = "package.vendor:OBJECT"``): a team
adds its own vendor API to the mock, the control API and the suite without editing the kit."""

from __future__ import annotations

from importlib.metadata import entry_points

from mock_server.balanced.vendor import BALANCED
from mock_server.marqeta.vendor import MARQETA
from mock_server.spec import Contract, compose_control
from mock_server.vendor import Vendor

PLUG_IN_GROUP = "refund_contract_kit.vendors"


def plugged_in() -> tuple[Vendor, ...]:
    """The vendors installed packages register, by entry point name; each must be a
    ``Vendor`` of that name (else the kit refuses to load, naming the entry point)."""
    found = []
    for entry in sorted(entry_points(group=PLUG_IN_GROUP), key=lambda entry: entry.name):
        named = f"entry point {entry.name} = {entry.value} ({PLUG_IN_GROUP})"
        try:
            declared = entry.load()
        except Exception as exc:
            raise ImportError(f"{named} cannot be loaded: {exc}") from exc
        if not isinstance(declared, Vendor) or declared.name != entry.name:
            raise TypeError(f"{named} is not a Vendor named {entry.name!r}")
        found.append(declared)
    return tuple(found)


def distinct(vendors: tuple[Vendor, ...]) -> tuple[Vendor, ...]:
    """``vendors``, refused if two share a name or a command-line option (a plugged-in vendor
    must not take the place of another, or its options)."""
    claimed: dict[tuple[str, str], str] = {}  # (what, value) -> the vendor that claimed it
    for each in vendors:
        for claim in _claims(each):
            if claim in claimed:
                what, value = claim
                raise ValueError(
                    f"vendors {claimed[claim]} and {each.name} share the {what} {value}"
                )
            claimed[claim] = each.name
    return vendors


def _claims(each: Vendor) -> list[tuple[str, str]]:
    options = each.credentials
    return [("name", each.name), ("option", options.flag), ("option", options.file_flag)]


VENDORS: tuple[Vendor, ...] = distinct(
    (
        MARQETA,
        BALANCED,
        *plugged_in(),
    )
)


def vendor(name: str) -> Vendor:
    """The registered vendor called ``name``; KeyError naming the known ones otherwise."""
    for each in VENDORS:
        if each.name == name:
            return each
    raise KeyError(f"no vendor {name!r}; known: {', '.join(each.name for each in VENDORS)}")


def control_contract() -> Contract:
    """The mock's control API contract, with every registered vendor's part merged in."""
    return compose_control({each.name: each.control_part for each in VENDORS})
