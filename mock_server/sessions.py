"""Sessions: requests carrying ``X-Mock-Session: NAME`` see and change only that session's state.

Each session is a mock of its own, made on first use with the start fixtures (demo data and
``--seed`` files), so parallel test runs and developers can share one mock without colliding.
Requests without the header use the default state.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from mock_server.domain import DomainError

SESSION_HEADER = "x-mock-session"
SESSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_SESSIONS = 256  # each holds a whole state; a runaway client should not exhaust memory

S = TypeVar("S")


class Sessions(Generic[S]):
    def __init__(
        self,
        default: S,
        open_session: Callable[[str], S],
        discard_session: Callable[[S], None],
    ) -> None:
        self.default = default
        self._open = open_session
        self._discard = discard_session
        self._named: dict[str, S] = {}
        self._lock = threading.Lock()

    def state(self, name: str | None) -> S:
        """The state of session ``name`` (the default one when no name is given)."""
        if not name:
            return self.default
        found = self._named.get(name)
        if found is not None:
            return found
        if not SESSION_NAME.fullmatch(name):
            raise DomainError(
                "invalid_request",
                "X-Mock-Session must be 1-64 letters, digits, '.', '_' or '-',"
                " starting with a letter or digit",
            )
        with self._lock:
            if name not in self._named:
                if len(self._named) >= MAX_SESSIONS:
                    raise DomainError(
                        "invalid_request", f"The mock holds {MAX_SESSIONS} sessions already"
                    )
                self._named[name] = self._open(name)
            return self._named[name]

    def delete(self, name: str) -> None:
        """Forget session ``name`` and discard its state; DomainError if there is none."""
        with self._lock:
            found = self._named.pop(name, None)
        if found is None:
            raise DomainError("session_not_found", f"No session named {name!r}")
        self._discard(found)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._named)

    def all(self) -> list[S]:
        with self._lock:
            return [self.default, *self._named.values()]
