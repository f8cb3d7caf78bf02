"""Work the mock repeats in the background while serving (the lifecycle timer, session tidying)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool

logger = logging.getLogger("mock_server")


@contextlib.asynccontextmanager
async def every(seconds: float, work: Callable[[], object], name: str) -> AsyncIterator[None]:
    """Run ``work`` every ``seconds`` while the block runs, in a worker thread (stores may
    block); a round that fails is logged and the next one tries again."""

    async def repeat() -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await run_in_threadpool(work)
            except Exception:  # one failed round must not stop the next
                logger.exception("%s failed", name)

    task = asyncio.create_task(repeat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
