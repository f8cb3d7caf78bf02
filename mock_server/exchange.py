"""What one exchange (a request and its answer) learns on its way through the app, for the layers
around it: why the contract refused the request, and which connection fault its answer is to
suffer. The outermost layer starts it; the journal reads it after the answer.

A context variable, not a scope key: Connexion passes copies of the scope along, and a handler
may run in a worker thread (which gets a copy of the context, holding this same object).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import Scope

ROUTING = "connexion_routing"  # Connexion's scope extension naming the operation it routed to


@dataclass
class Exchange:
    scope: Scope  # the scope as the server gave it: Connexion adds the routed operation to it
    refused: str | None = None  # why the contract refused the request, before any rule ran
    connection_fault: str | None = None  # what happens to the connection instead of an answer
    judged_operation: str | None = None  # the proxy's: the operation its judge routed it to
    violations: list[dict[str, str]] | None = None  # the proxy's: how the contract was broken
    answered_by: str | None = None  # the proxy's: "target", "mock" (its fallback) or "proxy"

    @property
    def operation(self) -> str | None:
        """The operationId Connexion routed the request to (None when no operation matched)."""
        routed = self.scope.get("extensions", {}).get(ROUTING, {})
        operation: str | None = routed.get("operation_id")
        return operation or self.judged_operation


_CURRENT: ContextVar[Exchange | None] = ContextVar("refund_mock_exchange", default=None)


def current() -> Exchange | None:
    """The exchange being served, None outside one (a call made without the app around it)."""
    return _CURRENT.get()


@contextmanager
def exchange(scope: Scope) -> Iterator[Exchange]:
    """Start the exchange of the request ``scope`` (an HTTP one) for what runs inside."""
    # Connexion's routing writes the operation into this same dict (its scope copies share it).
    scope.setdefault("extensions", {})
    started = Exchange(scope)
    token = _CURRENT.set(started)
    try:
        yield started
    finally:
        _CURRENT.reset(token)
