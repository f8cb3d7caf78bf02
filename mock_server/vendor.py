"""What the kit needs to know about one vendor API, in one object.

Each vendor package (``marqeta/``, ``balanced/``) declares a ``Vendor`` in its ``vendor.py``;
``registry.VENDORS`` lists them. The app, the command line, the control API, the contract docs
and the conformance suite loop over the registry, so a vendor is added by writing its contract
(``openapi/``), its package, and one line in the registry.

This module imports no web framework, and a ``Vendor`` names its runtime (services, handlers)
rather than importing it: the conformance suite reads the registry too, installed without
Connexion, and loads nothing of the mock's behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from mock_server.auth import Credentials
from mock_server.error_kinds import ErrorKind
from mock_server.json_types import Json
from mock_server.store import Listing, Store, Transaction

if TYPE_CHECKING:  # the suite reads the registry: it loads no wire shapes
    from mock_server.reading import Reading, Seen

# An operation's handler: called with the request's session (``mock_server.sessions.Session``)
# and the request's parameters by name; answers (body, status[, headers]).
Handler = Callable[..., Any]


class VendorRuntime(Protocol):
    """A vendor API as one process serves it, built once (``Vendor.build``): its handlers, and
    what the rest of the mock asks of a session's state of it, given that session's store."""

    @property
    def operations(self) -> Mapping[str, Handler]:
        """The handler of each of the contract's operations, by ``operationId``."""

    @property
    def control_operations(self) -> Mapping[str, Handler]:
        """Control API operations of this vendor's own, by ``operationId`` (e.g. Marqeta's
        ``createAccount``); empty if it has none."""

    @property
    def listings(self) -> Iterable[Listing]:
        """How its kinds are listed: each store is told (``Store.index``) when opened."""

    def seed(self, tx: Transaction, section: Json) -> Json:
        """Create the vendor's section of a fixtures file inside ``tx``; what was created."""

    def counts(self, store: Store) -> Json:
        """What a reset or a state import reports for this vendor (``ResetResult``)."""

    def overview(self, store: Store, limit: int) -> Json:
        """The dashboard's view of this vendor (``Overview``): pages, never the whole state."""

    def banner(self, store: Store) -> list[str]:
        """Start-up banner lines naming the demo resources."""

    def advance_due(self, store: Store, cutoff: datetime) -> int:
        """``--lifecycle auto``: move each resource unchanged since ``cutoff`` one step along
        its lifecycle; how many moved (0 for an API without lifecycles)."""

    @property
    def readings(self) -> Mapping[str, Reading]:
        """How each kind it stores is read back from an answer (the proxy's ``--record``), by
        the name of the contract schema that writes it."""

    def completed(self, seen: Seen) -> None:
        """Fill in, in ``seen``, the fields no single answer says (worked out from the other
        records seen); a record it cannot complete is left lacking them."""


@dataclass(frozen=True)
class CredentialOptions:
    """How a user tells the mock which credentials this vendor's API accepts."""

    flag: str  # repeatable command-line option, e.g. --auth USER:PASS
    metavar: str
    file_flag: str  # a file of the same values, one a line (nothing in `ps`)
    variable: str  # an environment variable holding the same lines
    meaning: str  # what one value is, for --help
    demo: Credentials
    parse: Callable[[list[str]], Credentials]
    suite_hint: str  # how the conformance suite's --auth is spelled for this vendor
    user_is_secret: bool = False  # an API key as the user name: never shown

    def describe(self, credentials: Credentials) -> str:
        """The banner's words for the credentials in use (never a configured password)."""
        if credentials.is_demo:
            user, password = credentials.pairs[0]
            return f"{user} / {password}" if password else user
        configured = f"{len(credentials.pairs)} configured with {self.flag}"
        if self.user_is_secret:
            return configured
        return f"{configured} (users {', '.join(user for user, _ in credentials.pairs)})"


@dataclass(frozen=True)
class Column:
    """A column of a dashboard table: ``field`` of each row, shown as ``kind`` says: ``text``,
    ``status``, ``money`` (decimal, two digits), ``cents`` (an integer), ``time`` (to the
    second), ``list`` (each item as ``item``, a template such as ``{id} ({amount})``)."""

    title: str
    field: str
    kind: str = "text"
    item: str = ""


@dataclass(frozen=True)
class RowAction:
    """A button on each row: a POST to the control API ``path`` (``{field}`` from the row)."""

    label: str
    path: str
    done: str  # the message after it, ``{field}`` from the answer
    enabled_by: str | None = None  # a row's boolean field: the button is off where it is false


@dataclass(frozen=True)
class Table:
    """A list of each group (its newest items, with ``total`` saying how many in all)."""

    items: str  # the group's field holding the rows
    total: str  # the group's field counting them all
    noun: str  # the first column's title, and the rows' data attribute (data-NOUN=key)
    columns: tuple[Column, ...]
    key: str | None = None  # the row field named by data-NOUN
    action: RowAction | None = None
    folded: str | None = None  # shown folded, under this title
    empty: str | None = None  # said when there are no rows (None: the empty table)


@dataclass(frozen=True)
class Panel:
    """What the dashboard shows of a vendor, from its part of ``GET /__mock__/overview``: a
    group per item of ``items`` (an account, a marketplace), each with its tables."""

    title: str
    items: str  # the overview's list of groups
    total: str  # and its count of them all
    noun: str  # the groups' data attribute (data-NOUN=key) and plural in the footer
    plural: str
    order: str  # which of them the overview holds, e.g. "last changed"
    key: str
    heading: str  # templates: {field} or {field|money}
    subtitle: str
    tables: tuple[Table, ...]


@dataclass(frozen=True)
class Vendor:
    name: str  # the control API's {api}, the fixtures file's section, conformance --api
    title: str  # as the banner and the docs name it
    contract_file: str  # in openapi/, or an absolute path (a plugged-in vendor's own file)
    control_part: str  # its part of the control API's contract, found as contract_file is
    credentials: CredentialOptions
    error_kinds: type[ErrorKind]  # every kind its service raises: each in its error table
    # The kinds of its own its control operations and fixtures raise: each in the control API's
    control_error_kinds: tuple[ErrorKind, ...]
    # The module whose ``build(clock, contract)`` makes its VendorRuntime, once per process:
    # named, not imported, so that reading the registry loads no service or handler.
    runtime: str
    models: Mapping[str, type]  # every kind it stores, with its model (state import checks)
    panel: Panel  # the dashboard's view of its overview
    # The conformance suite's modules for it, named rather than imported: they need
    # Schemathesis, which the mock's installs do not carry.
    suite_setup: str  # FromMock, FromFile, FIXTURES_KEYS, pinned_parameters
    suite_checks: str  # CHECKS: its response checks beyond the schema
    suite_sequences: str  # what the contract's links chain, as the suite's report names it
    # kind -> field -> the kind of record that field names (state import checks they exist)
    references: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
