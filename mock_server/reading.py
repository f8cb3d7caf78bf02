"""A vendor's models read back from the answers that show them: what the proxy's recorder
(``refund-mock proxy --record``) makes of a target's answers, as the mock's own state.

A vendor says, for each kind it stores, which contract schema writes it (its ``WireShape``),
what only the object's links say (ids inside URIs), and under which owners the store lists it.
What no single answer says (a Balanced debit's refunded total) its ``VendorRuntime.completed``
works out from everything seen."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from mock_server.json_types import Json
from mock_server.wire import WireShape

# A record as the recorder gathers it: the model's fields by name, as the model types them.
Fields = dict[str, Any]
# Everything seen, by (kind, key): the latest of each field.
Seen = MutableMapping[tuple[str, str], Fields]


def _no_links(_body: Json) -> Fields:
    return {}


def _unowned(_fields: Fields) -> tuple[str, ...]:
    return ("",)


@dataclass(frozen=True)
class Reading:
    """How one kind of record is read from the objects its schema writes."""

    kind: str
    shape: WireShape
    key: str  # the field its key is (token, id)
    # The fields only its links say (a Balanced debit's account, in its account_uri).
    linked: Callable[[Json], Fields] = field(default=_no_links)
    # The owners the store lists it under, from its fields (as the service adds it).
    owners: Callable[[Fields], tuple[str, ...]] = field(default=_unowned)
    # How its lists run by default: a page of records whose times tie says nothing of it.
    listed_newest_first: bool = True
    # The member of a list answer that says where its page starts (Marqeta's start_index):
    # records tied in time on two pages are placed by it.
    page_start: str | None = None

    def read(self, body: Json) -> Fields:
        return {**self.shape.read(body), **self.linked(body)}
