"""Running an ASGI app's lifespan from outside a server: startup before its first request,
shutdown after its last, as uvicorn runs it. The proxy runs the mock it embeds this way; tests
run the mock in process the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.types import ASGIApp


@asynccontextmanager
async def lifespan_of(app: ASGIApp) -> AsyncIterator[None]:
    """``app`` started for what runs inside, stopped after it; an app that fails to start or
    stop raises its error here."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    running = asyncio.ensure_future(app(scope, to_app.get, from_app.put))  # type: ignore[arg-type]

    async def told(message: str) -> None:
        """Send ``lifespan.<message>`` and wait for its ``.complete``, or the app's end."""
        await to_app.put({"type": f"lifespan.{message}"})
        answer = asyncio.ensure_future(from_app.get())
        await asyncio.wait({answer, running}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            running.result()  # what ended the app, raised here
            raise RuntimeError(f"the app's lifespan ended without answering {message}")
        said = answer.result()
        if said["type"] != f"lifespan.{message}.complete":
            raise RuntimeError(f"the app's {message} failed: {said.get('message')}")

    await told("startup")
    try:
        yield
    finally:
        await told("shutdown")
        await running
