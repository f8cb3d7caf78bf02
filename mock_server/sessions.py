"""Sessions: requests carrying ``X-Mock-Session: NAME`` see and change only that session's state.

Each session is a mock of its own, made on first use with the start fixtures (demo data and
``--seed`` files), so parallel test runs and developers can share one mock without colliding.
Requests without the header use the default state.

Sessions are bounded: at most ``max_sessions`` exist (each is a whole state, in memory or in a
file), and at most ``max_open`` hold an open store at once (a SQLite session holds three file
descriptors while open; the least recently used is closed first and opens again when next used).
They are listed, deleted one by one, and all deleted by a reset of the default state. With
``expire_seconds`` a session unused that long is deleted (a killed CI job's, a kept conformance
run's); in a shared store its last use is kept beside it, so a session one replica serves is not
expired by another.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from mock_server.domain import DomainError
from mock_server.error_kinds import Common, ControlKind
from mock_server.store import SessionLimitReached, Store

SESSION_HEADER = "x-mock-session"
SESSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

S = TypeVar("S")


@dataclass(frozen=True)
class Session:
    """What a request works on: its session's name (None for the default state) and store.
    Handlers and services are built once; each call is given the session it is for."""

    name: str | None
    store: Store


@dataclass(frozen=True)
class SessionLimits:
    max_sessions: int = 256  # sessions that exist at once: a runaway client cannot fill memory
    max_open: int = 32  # sessions whose store is open at once: bounds file descriptors
    idle_seconds: float = 60.0  # a session unused this long has its store closed
    expire_seconds: float | None = None  # a session unused this long is deleted (None: never)


@dataclass(frozen=True)
class SessionFiles:
    """Where a shared store keeps sessions beyond this process: other workers see them, another
    worker may delete them, and they outlive a restart."""

    names: Callable[[], list[str]]
    exists: Callable[[str], bool]
    remove: Callable[[str], None]
    stamp: Callable[[str, float], None]  # session NAME was last used at this time (a timestamp)
    # The sessions last used before the first time; those never stamped are stamped the second.
    unused: Callable[[float, float], list[str]]


@dataclass(frozen=True)
class SessionHooks(Generic[S]):
    open: Callable[[str], S]  # a new session's state (its store opened, fixtures loaded)
    release: Callable[[S], None]  # close its store for now; it opens again when next used
    discard: Callable[[S], None]  # remove its state for good


class Sessions(Generic[S]):
    def __init__(
        self,
        default: S,
        hooks: SessionHooks[S],
        limits: SessionLimits = SessionLimits(),
        files: SessionFiles | None = None,
    ) -> None:
        self.default = default
        self._hooks = hooks
        self._limits = limits
        self._files = files
        self._named: dict[str, S] = {}
        # Sessions with an open store, least recently used first, with when each was last used.
        self._open: OrderedDict[str, float] = OrderedDict()
        self._used: dict[str, float] = {}  # each session's last use in this process
        self._stamped: dict[str, float] = {}  # when each last wrote its use to the shared store
        self._lock = threading.Lock()

    def state(self, name: str | None, now: float = 0.0) -> S:
        """The state of session ``name`` (the default one when no name is given); ``now`` (a
        timestamp of the mock's clock) is when it was used, for ``tidy`` and ``expire``."""
        if not name:
            return self.default
        if not SESSION_NAME.fullmatch(name):
            raise DomainError(
                Common.INVALID_REQUEST,
                "X-Mock-Session must be 1-64 letters, digits, '.', '_' or '-',"
                " starting with a letter or digit",
            )
        with self._lock:
            # A session another worker deleted is found out by its store (SessionGone, at the
            # start of a transaction), and dropped with ``forget_gone``.
            found = self._named.get(name)
            if found is None:
                try:
                    if len(self._names()) >= self._limits.max_sessions:
                        raise SessionLimitReached(self._limits.max_sessions)
                    # A shared store counts again as it adds the session, across processes.
                    found = self._named[name] = self._hooks.open(name)
                except SessionLimitReached as exc:
                    raise DomainError(
                        Common.INVALID_REQUEST,
                        f"The mock holds {exc.limit} sessions, its limit (--max-sessions):"
                        " delete some (DELETE /__mock__/sessions/NAME) or reset",
                    ) from None
            self._open[name] = now
            self._open.move_to_end(name)
            self._used[name] = now  # written to a shared store by the next tidy, not here
            while len(self._open) > self._limits.max_open:
                idle, _ = self._open.popitem(last=False)
                self._hooks.release(self._named[idle])
            return found

    def forget_gone(self, name: str, state: S) -> None:
        """Drop ``state``, a session's state whose store found the session deleted (by another
        worker or replica, or by this process meanwhile): the next ``state(name)`` opens it
        anew."""
        with self._lock:
            if self._named.get(name) is state:
                self._forget(name)
                self._hooks.release(state)

    def delete(self, name: str) -> None:
        """Forget session ``name`` and remove its state; DomainError if there is none."""
        with self._lock:
            found = self._forget(name)
            kept = self._files is not None and self._files.exists(name)
        if found is None and not kept:
            raise DomainError(ControlKind.SESSION_NOT_FOUND, f"No session named {name!r}")
        # Outside the lock: removing waits for the session's running transaction (a long seed),
        # which must not hold up every other session's requests meanwhile.
        if found is not None:
            self._hooks.discard(found)
        elif self._files is not None:
            self._files.remove(name)

    def delete_all(self) -> None:
        """Remove every session (a reset of the whole mock)."""
        for name in self.names():
            with contextlib.suppress(DomainError):  # deleted meanwhile, by another worker
                self.delete(name)

    def expire(self, now: float) -> list[str]:
        """Delete the sessions unused for ``expire_seconds`` (by any process of a shared store,
        whose uses this process has written first); the names deleted."""
        if self._limits.expire_seconds is None:
            return []
        before = now - self._limits.expire_seconds
        self._stamp_uses()
        if self._files is not None:  # another process's use counts: the store's stamps decide
            unused = self._files.unused(before, now)
        else:
            with self._lock:
                unused = [name for name, used in self._used.items() if used < before]
        expired = []
        for name in unused:
            with self._lock:
                if self._used.get(name, float("-inf")) >= before:
                    continue  # used here since the stamps were read
            with contextlib.suppress(DomainError):  # deleted meanwhile (another replica)
                self.delete(name)
                expired.append(name)
        return expired

    def _stamp_uses(self) -> None:
        """Write to the shared store each session's last use here that it does not know yet:
        from the tidy, so that no request waits for it."""
        if self._files is None:
            return
        with self._lock:
            fresh = {
                name: used
                for name, used in self._used.items()
                if used > self._stamped.get(name, float("-inf"))
            }
        for name, used in fresh.items():
            self._files.stamp(name, used)
            with self._lock:
                self._stamped[name] = max(used, self._stamped.get(name, float("-inf")))

    def tidy(self, now: float) -> None:
        """Close the stores of sessions unused for ``idle_seconds``, and forget sessions another
        worker deleted (their files are gone): what they held goes back to the system. Then
        expire the sessions unused for ``expire_seconds``."""
        self._tidy(now)
        self.expire(now)

    def _tidy(self, now: float) -> None:
        with self._lock:
            idle = [
                name for name, used in self._open.items() if now - used >= self._limits.idle_seconds
            ]
            for name in idle:
                del self._open[name]
                self._hooks.release(self._named[name])
            if self._files is not None:
                for name in [name for name in self._named if not self._files.exists(name)]:
                    self._hooks.release(self._named[name])
                    self._forget(name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._names())

    def all(self) -> list[S]:
        with self._lock:
            return [self.default, *self._named.values()]

    def _names(self) -> set[str]:
        return set(self._named) | set(self._files.names() if self._files else ())

    @property
    def expire_seconds(self) -> float | None:
        return self._limits.expire_seconds

    def _forget(self, name: str) -> S | None:
        self._open.pop(name, None)
        self._used.pop(name, None)
        self._stamped.pop(name, None)
        return self._named.pop(name, None)
