"""Fair shares of the worker threads: one session cannot take them all.

With a store that may wait (SQLite, PostgreSQL), every request runs in one of the process's
worker threads, and a session's transactions wait for each other. Sixty exports of one large
session queued at once would otherwise hold every thread, waiting their turn, while the other
sessions' requests waited for a thread. Here at most ``per_session`` requests of a session
hold a thread at once; the others wait on the event loop, for ``wait`` seconds at most, and are
then answered 503 (busy), having done nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from mock_server.store import StoreBusy


class ThreadShares:
    def __init__(self, per_session: int = 8, wait: float = 4.0) -> None:
        self.per_session = per_session
        self.wait = wait
        self._turns: dict[str, asyncio.Semaphore] = {}
        self._holders: dict[str, int] = {}  # waiting or holding, so idle entries can go

    @contextlib.asynccontextmanager
    async def held(self, session: str) -> AsyncIterator[None]:
        """A thread's share for a request of ``session`` ("" for the default state)."""
        turn = self._turns.setdefault(session, asyncio.Semaphore(self.per_session))
        self._holders[session] = self._holders.get(session, 0) + 1
        try:
            try:
                async with asyncio.timeout(self.wait):
                    await turn.acquire()
            except TimeoutError:
                raise StoreBusy(
                    f"The mock is busy with {self.per_session} requests of "
                    + (f"session {session!r}" if session else "the default state")
                    + f" that took more than {self.wait:g} s; nothing was done, send it again"
                ) from None
            try:
                yield
            finally:
                turn.release()
        finally:
            self._holders[session] -= 1
            if not self._holders[session]:
                del self._holders[session], self._turns[session]
