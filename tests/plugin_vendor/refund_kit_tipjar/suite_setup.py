"""The tip jar's setup data for the conformance suite: a tip generated reads can find."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from conformance.fixtures import ControlClient, NoSetupData

FIXTURES_KEYS = frozenset({"tip_id"})


class FromMock:
    def __init__(self, control: ControlClient) -> None:
        self.control = control

    def tip(self) -> str:
        seeded = {"tipjar": {"tips": [{"reference": uuid.uuid4().hex, "amount": 100}]}}
        return str(self.control.post("/seed", seeded)["tipjar"]["tips"][0]["id"])


class FromFile:
    def __init__(self, section: dict[str, Any], path: Path) -> None:
        self.section, self.path = section, path

    def tip(self) -> str:
        if not self.section.get("tip_id"):
            raise NoSetupData(f"{self.path}: add tipjar.tip_id")
        return str(self.section["tip_id"])


def pinned_parameters(setup: FromMock | FromFile) -> dict[str, str]:
    return {"tip_id": setup.tip()}
