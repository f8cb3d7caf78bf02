"""``make bench``: our mock against Stoplight Prism, a no-work Connexion floor and a bare
Starlette ceiling, same load.

Writes ``bench/results/latest.json``, ``latest.md`` and ``throughput.png``. Load is wrk with 2
threads and 32 connections on loopback; generator and servers share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from mock_server.app import MockConfig, build_app
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from mock_server.clock import SystemClock
from mock_server.marqeta.service import MarqetaService, NewAccount, NewRefund, Policy
from mock_server.marqeta.vendor import DEMO_PASSWORD, DEMO_USER, MARQETA
from mock_server.spec import load_contract

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contract_diff
import load
import report
import targets
from load import Request

RESULTS = targets.ROOT / "bench" / "results"
MARQETA_AUTH = (DEMO_USER, DEMO_PASSWORD)
BALANCED_AUTH = (DEMO_BALANCED_SECRET, "")


@dataclass(frozen=True)
class Api:
    name: str
    base: str  # our mock's base path; Prism serves the contract's paths without it
    contract: Path
    endpoints: dict[str, Callable[[dict[str, str]], Request]]


def _marqeta_endpoints() -> dict[str, Callable[[dict[str, str]], Request]]:
    refund = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 0.01}
    balance_refund = {"method": "ACH", "amount": 0.01, "description": "b", "currency_code": "USD"}
    return {
        "create balance refund": lambda ids: Request(
            "POST", f"/accounts/{ids['account']}/creditbalancerefunds", balance_refund, MARQETA_AUTH
        ),
        "create refund": lambda ids: Request(
            "POST", f"/accounts/{ids['account']}/refunds", refund, MARQETA_AUTH
        ),
        "retrieve refund": lambda ids: Request(
            "GET", f"/accounts/{ids['account']}/refunds/{ids['refund']}", auth=MARQETA_AUTH
        ),
        "list refunds (count=100)": lambda ids: Request(
            "GET", f"/accounts/{ids['account']}/refunds?count=100", auth=MARQETA_AUTH
        ),
    }


def _balanced_endpoints() -> dict[str, Callable[[dict[str, str]], Request]]:
    return {
        "create refund": lambda ids: Request(
            "POST",
            f"/marketplaces/{ids['marketplace']}/refunds",
            {
                "debit_uri": f"/v1/marketplaces/{ids['marketplace']}/debits/{ids['debit']}",
                "amount": 1,
            },
            BALANCED_AUTH,
        ),
        "retrieve refund": lambda ids: Request(
            "GET", f"/marketplaces/{ids['marketplace']}/refunds/{ids['refund']}", auth=BALANCED_AUTH
        ),
        "list refunds (limit=100)": lambda ids: Request(
            "GET", f"/marketplaces/{ids['marketplace']}/refunds?limit=100", auth=BALANCED_AUTH
        ),
    }


APIS = [
    Api("marqeta", "/v3", targets.ROOT / "openapi" / "marqeta-credit.yaml", _marqeta_endpoints()),
    Api("balanced", "/v1", targets.ROOT / "openapi" / "balanced-v1.yaml", _balanced_endpoints()),
]
# Prism answers from the contract's examples, whatever the ids.
PRISM_IDS = {
    "account": "my_account_token_12",
    "refund": "my_refund_token_01",
    "marketplace": "TEST-MP24KIb4D0osXfYdPGSMENDd",
    "debit": "WD2Lpzyz8Okbhx2Nbw7YuTP3",
}


def our_ids(root: str, api: Api) -> dict[str, str]:
    """Fresh resources on our mock with room for every refund the load will make."""
    with httpx.Client(base_url=root, timeout=30) as client:
        if api.name == "marqeta":
            account = client.post("/__mock__/accounts", json={"current_balance": -1_000_000_000})
            token = account.json()["token"]
            refund = client.post(
                f"/v3/accounts/{token}/refunds",
                json={"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1},
                auth=MARQETA_AUTH,
            )
            return {"account": token, "refund": refund.json()["token"]}
        seeded = client.post(
            "/__mock__/seed",
            json={
                "balanced": {
                    "marketplaces": [
                        {"name": "Bench", "accounts": [{"debits": [{"amount": 10**12, "fee": 0}]}]}
                    ]
                }
            },
        ).json()["balanced"]["marketplaces"][0]
        marketplace = seeded["id"]
        debit = seeded["accounts"][0]["debits"][0]["id"]
        refund = client.post(
            f"/v1/marketplaces/{marketplace}/refunds",
            json={"debit_uri": f"/v1/marketplaces/{marketplace}/debits/{debit}", "amount": 1},
            auth=BALANCED_AUTH,
        )
        return {"marketplace": marketplace, "debit": debit, "refund": refund.json()["id"]}


# The commit before issue 29's speed work (kept answers, the fault slots on PostgreSQL): no
# endpoint may be slower than it by more than 10 %, measured in the same run. (Issue 15's
# refactor was held to 025cc3b the same way: `--baseline 025cc3b`.)
BASELINE_COMMIT = "3bb43d1"


def endpoint_table(
    seconds: int, baseline: str, rounds: int
) -> tuple[list[dict[str, object]], float]:
    """Every endpoint on every target, ``rounds`` times over with the servers started anew each
    time; each figure is the median of the rounds (this machine's noise moves a single run by
    10-20 %), and the rounds' own figures are kept beside it."""
    with targets.ceiling() as bare:
        ceiling = {
            method: load.run(
                bare.root,
                Request(method, "/refund", {"a": 1} if method == "POST" else None),
                seconds,
            )
            for method in ("GET", "POST")
        }
    runs, peaks = [], []
    for number in range(1, rounds + 1):
        print(f" round {number} of {rounds}", flush=True)
        measured, rss = endpoint_round(seconds, baseline, ceiling)
        runs.append(measured)
        peaks.append(rss)
    rows = [report.median_row([run[index] for run in runs]) for index in range(len(runs[0]))]
    return rows, max(peaks)


def endpoint_round(
    seconds: int, baseline: str, ceiling: dict[str, load.Measured]
) -> tuple[list[dict[str, Any]], float]:
    """One round: ours, the baseline commit, Prism and the Connexion floor, endpoint by endpoint
    (the four measured one after the other, so that they meet the same machine)."""
    rows: list[dict[str, Any]] = []
    with targets.our_mock() as ours, targets.baseline_mock(baseline) as before:
        for api in APIS:
            ids = our_ids(ours.root, api)
            ids_before = our_ids(before.root, api)
            with (
                targets.prism(api.contract) as prism,
                targets.connexion_floor(api.contract, api.base) as floor,
            ):
                for endpoint, build in api.endpoints.items():
                    mine = load.run(ours.root + api.base, build(ids), seconds)
                    earlier = load.run(before.root + api.base, build(ids_before), seconds)
                    theirs = load.run(prism.root, build(PRISM_IDS), seconds)
                    framework = load.run(floor.root + api.base, build(ids), seconds)
                    bare_figure = ceiling[build(ids).method]
                    rows.append(
                        {
                            "api": api.name,
                            "endpoint": endpoint,
                            "ours": asdict(mine),
                            "baseline": {"commit": baseline, **asdict(earlier)},
                            "prism": asdict(theirs),
                            "connexion": asdict(framework),
                            "ceiling": asdict(bare_figure),
                        }
                    )
                    print(report.row_line(rows[-1]), flush=True)
        rss = ours.peak_rss_mb()
    return rows, rss


async def _fill(root: str, account: str, start: int, stop: int) -> None:
    """Refunds ``start`` to ``stop`` - 1 of the account, 16 at a time.

    Each has its own client token, so a request retried after a dropped connection cannot
    create a refund twice (its second answer is 409).
    """
    url = f"{root}/v3/accounts/{account}/refunds"
    async with httpx.AsyncClient(auth=MARQETA_AUTH, timeout=60) as client:
        numbers = iter(range(start, stop))

        async def create(number: int) -> None:
            body = {"token": f"fill-{number}", "method": "ACH", "amount": 0.01}
            body["type"] = "CREDIT_BALANCE_REFUND"
            for _ in range(5):
                try:
                    response = await client.post(url, json=body)
                except httpx.TransportError:
                    continue
                if response.status_code in (201, 409):
                    return
                response.raise_for_status()
            raise SystemExit(f"could not create refund {number}")

        async def worker() -> None:
            for number in numbers:
                await create(number)

        await asyncio.gather(*(worker() for _ in range(16)))


def scale_table(sizes: list[int], seconds: int) -> tuple[list[dict[str, object]], float]:
    """List-page latency as one account's refunds grow; peak RSS at the largest size."""
    rows: list[dict[str, object]] = []
    with targets.our_mock() as ours:
        account = httpx.post(
            f"{ours.root}/__mock__/accounts", json={"current_balance": -1_000_000_000}
        ).json()["token"]
        held = 0
        for size in sizes:
            asyncio.run(_fill(ours.root, account, held, size))
            held = size
            page = Request("GET", f"/v3/accounts/{account}/refunds?count=100", auth=MARQETA_AUTH)
            measured = load.run(ours.root, page, seconds)
            rows.append({"refunds": size, "list": asdict(measured), "rss_mb": ours.peak_rss_mb()})
            print(f"  {size} refunds: list p50 {measured.p50_ms:.2f} ms", flush=True)
        return rows, ours.peak_rss_mb()


class Poller:
    """A browser tab's polling, in a thread: ``paths`` fetched one after the other, then a
    pause of ``every`` seconds, until stopped (what the dashboard page does)."""

    def __init__(self, root: str, paths: list[str], every: float = 1.0) -> None:
        self.root, self.paths, self.every = root, paths, every
        self.stopped = threading.Event()
        self.polls = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.root, timeout=120) as client:
            while not self.stopped.is_set():
                for path in self.paths:
                    client.get(path).raise_for_status()
                self.polls += 1
                self.stopped.wait(self.every)

    def __enter__(self) -> Poller:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=180)


# What the dashboard polls every second, and what it polled before it had /overview.
DASHBOARD_POLL = [
    "/__mock__/overview?limit=20",
    "/__mock__/requests?limit=50",
    "/__mock__/sessions",
]
WHOLE_STATE_POLL = ["/__mock__/state", "/__mock__/requests?limit=50", "/__mock__/sessions"]


def dashboard_table(refunds: int, seconds: int) -> dict[str, object]:
    """Retrieve latency with ``refunds`` refunds held: idle, with the dashboard open, and with
    the whole-state polling the dashboard did before."""
    with targets.our_mock() as ours:
        account = httpx.post(
            f"{ours.root}/__mock__/accounts", json={"current_balance": -1_000_000_000}
        ).json()["token"]
        asyncio.run(_fill(ours.root, account, 0, refunds))
        retrieve = Request(
            "GET", f"/v3/accounts/{account}/refunds/fill-{refunds // 2}", auth=MARQETA_AUTH
        )
        idle = load.run(ours.root, retrieve, seconds)
        with Poller(ours.root, DASHBOARD_POLL) as dashboard:
            polled = load.run(ours.root, retrieve, seconds)
        with Poller(ours.root, WHOLE_STATE_POLL) as before:
            whole = load.run(ours.root, retrieve, seconds)
    print(
        f"  retrieve p99 with {refunds} refunds: idle {idle.p99_ms:.1f} ms, dashboard open"
        f" {polled.p99_ms:.1f} ms ({dashboard.polls} polls), whole-state polling"
        f" {whole.p99_ms:.1f} ms ({before.polls} polls)",
        flush=True,
    )
    return {
        "refunds": refunds,
        "idle": asdict(idle),
        "dashboard": asdict(polled),
        "dashboard_polls": dashboard.polls,
        "whole_state": asdict(whole),
        "whole_state_polls": before.polls,
    }


def sqlite_scale(size: int, seconds: int) -> dict[str, object]:
    """The same list page served from the SQLite store. Its file is filled in this process
    (quicker than over HTTP), then a mock serves it: the server's peak RSS is what the records
    cost a mock that keeps them on disk."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:{folder}/scale.db"
        # The mock's schema and indexes, made by the app as a served mock makes them.
        store = build_app(MockConfig(store=url, demo=False)).default.store
        service = MarqetaService(
            SystemClock(), Policy.from_contract(load_contract(MARQETA.contract_file))
        )
        account, _ = service.open_account(
            store, NewAccount(current_balance=Decimal(-1_000_000_000), credit_limit=Decimal(0))
        )
        refund = NewRefund(method="ACH", type="CREDIT_BALANCE_REFUND", amount=Decimal("0.01"))
        for _ in range(size):
            service.create_refund(store, account.token, refund)
        store.close()
        with targets.our_mock("--store", url) as ours:
            page = Request(
                "GET", f"/v3/accounts/{account.token}/refunds?count=100", auth=MARQETA_AUTH
            )
            measured = load.run(ours.root, page, seconds)
            print(f"  {size} refunds on SQLite: list p50 {measured.p50_ms:.2f} ms", flush=True)
            return {"refunds": size, "list": asdict(measured), "rss_mb": ours.peak_rss_mb()}


STORE_ENDPOINTS = ("create refund", "retrieve refund", "list refunds (count=100)")


def store_table(seconds: int) -> list[dict[str, object]]:
    """Marqeta creates, retrieves and lists per second on each store, by one process and by
    two: memory (one process only), SQLite (two workers of one mock, one file), PostgreSQL
    (two replicas, each a mock of its own on one database, the load split between them). The
    database server is local and shares the machine's cores with the mocks and wrk."""
    from tests.postgres import postgres_server

    rows: list[dict[str, object]] = []
    marqeta = APIS[0]
    with tempfile.TemporaryDirectory() as folder, postgres_server() as server:
        one_db, shared_db = server.new_database(), server.new_database()
        setups: list[tuple[str, int, list[list[str]]]] = [
            ("memory", 1, [[]]),
            ("sqlite", 1, [["--store", f"sqlite:{folder}/one.db"]]),
            ("sqlite", 2, [["--store", f"sqlite:{folder}/two.db", "--workers", "2"]]),
            ("postgresql", 1, [["--store", one_db]]),
            ("postgresql", 2, [["--store", shared_db]] * 2),
        ]
        for store, processes, commands in setups:
            with contextlib.ExitStack() as stack:
                mocks = [stack.enter_context(targets.our_mock(*extra)) for extra in commands]
                ids = our_ids(mocks[0].root, marqeta)
                database = server.process.pid if store == "postgresql" and server.process else None
                for endpoint in STORE_ENDPOINTS:
                    request = marqeta.endpoints[endpoint](ids)
                    roots = [mock.root + marqeta.base for mock in mocks]
                    mocks_before = sum(mock.cpu_seconds() for mock in mocks)
                    database_before = targets.tree_cpu_seconds(database) if database else 0.0
                    measured = load.run_split(roots, request, seconds)
                    mocks_used = sum(mock.cpu_seconds() for mock in mocks) - mocks_before
                    database_used = (
                        targets.tree_cpu_seconds(database) - database_before if database else None
                    )
                    served = max(measured.requests, 1)
                    rows.append(
                        {
                            "store": store,
                            "processes": processes,
                            "endpoint": endpoint,
                            **asdict(measured),
                            # CPU per request, for the capacity model (docs/deploying.md)
                            "mock_cpu_ms": round(mocks_used / served * 1000, 3),
                            "database_cpu_ms": (
                                None
                                if database_used is None
                                else round(database_used / served * 1000, 3)
                            ),
                        }
                    )
                    print(report.store_line(rows[-1]), flush=True)
    return rows


PROXY_RATE = 100  # requests a second, held: the pace of an app's own tests, not a flood
PROXIED = ("retrieve refund", "create refund")


def proxy_table(seconds: int) -> list[dict[str, object]]:
    """What the validating proxy adds, against calling the mock directly in the same run: the
    median latency at a held 100 requests a second, and the most it carries (wrk)."""
    rows: list[dict[str, object]] = []
    with targets.our_mock() as ours:
        for api in APIS:
            ids = our_ids(ours.root, api)
            with targets.proxy(api.name, ours.root + api.base) as proxied:
                for endpoint in PROXIED:
                    request = api.endpoints[endpoint](ids)
                    direct, through = ours.root + api.base, proxied.root + api.base
                    row = {
                        "api": api.name,
                        "endpoint": endpoint,
                        "paced_direct": asdict(load.paced(direct, request, PROXY_RATE, seconds)),
                        "paced_proxy": asdict(load.paced(through, request, PROXY_RATE, seconds)),
                        "most_direct": asdict(load.run(direct, request, seconds)),
                        "most_proxy": asdict(load.run(through, request, seconds)),
                    }
                    rows.append(row)
                    print(report.proxy_line(row), flush=True)
    return rows


def start_up_seconds(runs: int = 3) -> float:
    """Median time from starting ``python -m mock_server`` to its first answered API request."""
    times = []
    for _ in range(runs):
        port = targets.free_port()
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "mock_server", "--port", str(port)],
            cwd=targets.ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = started + 60
            while time.monotonic() < deadline:
                try:
                    answer = httpx.get(
                        f"http://127.0.0.1:{port}/v3/accounts", auth=MARQETA_AUTH, timeout=1
                    )
                    if answer.status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.01)
            times.append(time.monotonic() - started)
        finally:
            process.terminate()
            process.wait(timeout=15)
    return statistics.median(times)


def conformance_seconds() -> dict[str, float]:
    """Wall time of a default conformance run per API against a fresh local mock."""
    times = {}
    with targets.our_mock() as ours:
        for api, auth in (("marqeta", MARQETA_AUTH), ("balanced", BALANCED_AUTH)):
            base = next(a.base for a in APIS if a.name == api)
            started = time.monotonic()
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "conformance",
                    "run",
                    "--api",
                    api,
                    "--base-url",
                    ours.root + base,
                    "--auth",
                    ":".join(auth),
                    "--seed",
                    "1",
                ],
                cwd=targets.ROOT,
                capture_output=True,
                text=True,
            )
            times[api] = round(time.monotonic() - started, 1)
            if run.returncode != 0:  # a timing of a failing run means nothing: show why
                raise SystemExit(f"conformance run on {api} failed:\n{run.stdout[-6000:]}")
    return times


def _at_least_one(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError("needs at least one round")
    return number


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per endpoint")
    parser.add_argument(
        "--rounds",
        type=_at_least_one,
        default=3,
        help="runs of the endpoint table; each figure is their median (default: %(default)s)",
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="refund counts for scale")
    parser.add_argument(
        "--dashboard-refunds", type=int, default=20_000, help="refunds held while a dashboard polls"
    )
    parser.add_argument(
        "--baseline",
        default=BASELINE_COMMIT,
        help="an earlier commit whose mock runs beside ours on every endpoint (A/B, same run)",
    )
    parser.add_argument(
        "--proxy-only",
        action="store_true",
        help="measure only the validating proxy's overhead (bench/results/proxy.json)",
    )
    parser.add_argument(
        "--stores-only",
        action="store_true",
        help="measure only the store table: memory, SQLite, PostgreSQL (bench/results/stores.json)",
    )
    args = parser.parse_args()
    load.ensure_wrk()
    if args.stores_only:
        stores = store_table(args.seconds)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "stores.json").write_text(json.dumps(stores, indent=2) + "\n")
        print("\n".join(report.store_markdown(stores)))
        return 0
    if args.proxy_only:
        rows = proxy_table(args.seconds)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "proxy.json").write_text(json.dumps(rows, indent=2) + "\n")
        print(report.proxy_markdown(rows))
        return 0
    targets.ensure_prism()
    print(
        f"load: wrk -t{load.THREADS} -c{load.CONNECTIONS} -d{args.seconds}s on loopback; "
        f"generator and server share {os.cpu_count()} cores",
        flush=True,
    )
    endpoints, rss = endpoint_table(args.seconds, args.baseline, args.rounds)
    sizes = [int(size) for size in args.sizes.split(",")]
    scale, scale_rss = scale_table(sizes, max(3, args.seconds // 2))
    on_sqlite = sqlite_scale(sizes[-1], max(3, args.seconds // 2))
    stores = store_table(args.seconds)
    dashboard = dashboard_table(args.dashboard_refunds, args.seconds)
    proxied = proxy_table(args.seconds)
    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "load": {
            "tool": "wrk",
            "threads": load.THREADS,
            "connections": load.CONNECTIONS,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "shared_cores": True,
        },
        "endpoints": endpoints,
        "ours_peak_rss_mb": round(rss, 1),
        "scale": scale,
        "scale_peak_rss_mb": round(scale_rss, 1),
        "scale_sqlite": on_sqlite,
        "stores": stores,
        "dashboard": dashboard,
        "proxy": proxied,
        "start_up_seconds": round(start_up_seconds(runs=5), 2),
        "conformance_seconds": conformance_seconds(),
        "contract_diff": contract_diff.diff_seconds(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = report.markdown(results)
    (RESULTS / "latest.md").write_text(markdown)
    report.chart(results, RESULTS / "throughput.png")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
