"""Load from wrk (Debian's package, installed when missing), and what it measured."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

THREADS = 2
CONNECTIONS = 32
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict | None = None
    auth: tuple[str, str] | None = None


@dataclass(frozen=True)
class Measured:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # non-2xx answers and socket errors
    requests: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and apt-get could not install it")
    return found


def _script(request: Request) -> str:
    headers = {"Content-Type": "application/json"}
    if request.auth:
        token = base64.b64encode(":".join(request.auth).encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    lines = [f'wrk.method = "{request.method}"']
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    if request.body is not None:
        lines.append(f"wrk.body = {json.dumps(json.dumps(request.body))}")
    return "\n".join(lines) + "\n"


def run_split(roots: list[str], request: Request, seconds: int) -> Measured:
    """The same load as ``run``, its connections split between ``roots`` (replicas behind no
    balancer), all at once; the figures added up (latencies: the worst root's)."""
    share = max(1, CONNECTIONS // len(roots))
    with ThreadPoolExecutor(max_workers=len(roots)) as pool:
        parts = list(pool.map(lambda root: run(root, request, seconds, share), roots))
    return Measured(
        requests_per_second=sum(part.requests_per_second for part in parts),
        p50_ms=max(part.p50_ms for part in parts),
        p99_ms=max(part.p99_ms for part in parts),
        max_ms=max(part.max_ms for part in parts),
        errors=sum(part.errors for part in parts),
        requests=sum(part.requests for part in parts),
    )


def run(root: str, request: Request, seconds: int, connections: int = CONNECTIONS) -> Measured:
    """``wrk -t2 -c32`` for ``seconds`` against ``root`` + the request's path."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_script(request))
    try:
        result = subprocess.run(
            [
                ensure_wrk(),
                f"-t{THREADS}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                root + request.path,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        Path(script.name).unlink()
    return parse(result.stdout)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse(output: str) -> Measured:
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output)
    # Anchored: "92.50%" in the stdev column must not pass for the 50th percentile.
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if not (latency and p50 and p99 and rate and total):
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    return Measured(
        requests_per_second=float(rate.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        max_ms=_ms(latency.group(3)),
        errors=errors,
        requests=int(total.group(1)),
    )


def paced(root: str, request: Request, rate: int, seconds: int) -> Measured:
    """``rate`` requests a second for ``seconds``, each sent on its schedule whether or not the
    one before has been answered (a held rate, which wrk cannot give), on kept-alive
    connections; latency from each request's send to its answer."""
    return asyncio.run(_paced(root, request, rate, seconds))


async def _paced(root: str, request: Request, rate: int, seconds: int) -> Measured:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(auth=request.auth, timeout=30, limits=limits) as client:

        async def one() -> None:
            nonlocal errors
            sent = time.perf_counter()
            try:
                answer = await client.request(
                    request.method, root + request.path, json=request.body
                )
            except httpx.TransportError:
                errors += 1
                return
            if not answer.is_success:  # an error is counted, not timed
                errors += 1
                return
            latencies.append((time.perf_counter() - sent) * 1000)

        await one()  # a connection open before the clock starts
        latencies.clear()
        started = time.perf_counter()
        running = []
        for number in range(rate * seconds):
            await asyncio.sleep(max(0.0, started + number / rate - time.perf_counter()))
            running.append(asyncio.create_task(one()))
        await asyncio.gather(*running)
        elapsed = time.perf_counter() - started
    latencies.sort()
    if not latencies:
        raise SystemExit(f"{request.method} {root + request.path}: no request succeeded")
    return Measured(
        requests_per_second=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies),
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        max_ms=latencies[-1],
        errors=errors,
        requests=len(latencies) + errors,
    )
