"""Liveness and readiness, for load balancers and orchestrators: ``/__mock__/health/live`` (the
process answers) and ``/__mock__/health/ready`` (its store answers a read within a second).

A replica whose database is down can only answer 503 to every API call, so it says it is not
ready and is taken out of rotation; it stays live (restarting it would not bring the database
back). Both are served without a token, to any host, and with ``--no-control`` too: a probe
knows no secrets, and turning the control API off must not turn the probes off.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from connexion import AsyncApp
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from mock_server.json_types import Json
from mock_server.store import StoreError, StoreUnavailable
from mock_server.store.backends import StoreBackend

LIVE_PATH = "/health/live"
READY_PATH = "/health/ready"
READY_WITHIN_S = 1.0  # a store slower than this to answer one read is taken as not ready
PING_THREADS = 2  # pings stuck on an unreachable host: at most this many at once


class Probes:
    def __init__(self, backend: StoreBackend, within_s: float = READY_WITHIN_S) -> None:
        self.backend = backend
        self.within_s = within_s
        # Pings run here, so that one stuck on a dead host (libpq waits 2 s at least) neither
        # holds up the probe's answer nor piles up threads probe after probe.
        self._pings = ThreadPoolExecutor(PING_THREADS, thread_name_prefix="readiness")

    def live(self) -> tuple[Json, int]:
        return {"status": "live"}, 200

    def ready(self) -> tuple[Json, int]:
        store = self.backend.kind
        ping = self._pings.submit(self.backend.ping)
        try:
            ping.result(timeout=self.within_s)
        except FutureTimeout:
            ping.cancel()  # if it is still queued behind stuck ones: no pile of late pings
            reason = f"the store did not answer within {self.within_s:g} s"
            return {"status": "unavailable", "store": store, "reason": reason}, 503
        except (StoreUnavailable, StoreError) as exc:
            return {"status": "unavailable", "store": store, "reason": str(exc)}, 503
        return {"status": "ready", "store": store}, 200

    def close(self) -> None:
        self._pings.shutdown(wait=False, cancel_futures=True)


def probe_routes(app: AsyncApp, root: str, probes: Probes) -> None:
    """Serve the probes under ``root`` without the control API (``--no-control``)."""

    def answered(answer: tuple[Json, int]) -> JSONResponse:
        body, status = answer
        return JSONResponse(body, status_code=status)

    async def live(_request: Request) -> JSONResponse:
        return answered(probes.live())

    async def ready(_request: Request) -> JSONResponse:
        return answered(await run_in_threadpool(probes.ready))

    app.add_url_rule(f"{root}{LIVE_PATH}", endpoint="live", view_func=live, methods=["GET"])
    app.add_url_rule(f"{root}{READY_PATH}", endpoint="ready", view_func=ready, methods=["GET"])
