"""The vendor APIs the kit serves, mocks and checks: one line each (see ``mock_server.vendor``
for what a line holds, and docs/development.md for adding one)."""

from __future__ import annotations

from mock_server.balanced.vendor import BALANCED
from mock_server.marqeta.vendor import MARQETA
from mock_server.spec import Contract, compose_control
from mock_server.vendor import Vendor

VENDORS: tuple[Vendor, ...] = (
    MARQETA,
    BALANCED,
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
