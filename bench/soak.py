"""``make soak``: a long conformance run per API against two mock workers on one SQLite file,
then session churn, then session churn under load (sessions deleted while clients write to them)
on SQLite with two workers and on PostgreSQL with two replicas.

Schemathesis generates positive and negative requests for every operation, follows the
contracts' links and runs the behaviour tests; the soak passes when both APIs conform, no
response is a 5xx and each API got at least ``--min-requests`` generated requests.

The churn makes sessions, uses them and deletes them, round after round, then restarts the
mock on the same file: the files, file descriptors and memory it holds must come back to where
they started (memory within ``RSS_SLACK``: Python keeps some of what it freed).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import targets
from bench.session_churn import START_DATA, ChurnResult, churn_under_load

ROOT = targets.ROOT
APIS = {
    "marqeta": ("/v3", "demo_app_token:demo_access_token"),
    "balanced": ("/v1", "ak-test-demo-secret:"),
}
ANSWERED = re.compile(r"generated requests: (\d+)(?: \(([^)]*)\))?")
JSON = {"Content-Type": "application/json"}
MARQETA_AUTH = ("demo_app_token", "demo_access_token")
RSS_SLACK = 0.10
SESSION_IDLE_S = 1  # the mock closes idle sessions' stores this soon; the churn waits for it


@dataclass
class SoakRun:
    api: str
    requests: int
    server_errors: int
    verdict: str
    exit_code: int
    seconds: float
    report: str

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and self.server_errors == 0


def soak(api: str, root: str, max_examples: int, seed: int) -> SoakRun:
    base, auth = APIS[api]
    command = [sys.executable, "-m", "conformance", "run", "--api", api]
    command += ["--base-url", root + base, "--auth", auth]
    command += ["--max-examples", str(max_examples), "--seed", str(seed)]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    found = ANSWERED.search(result.stdout)
    classes = {
        name: int(count)
        for name, count in (
            part.split() for part in ((found and found.group(2)) or "").split(", ") if part
        )
    }
    verdict = next((line for line in result.stdout.splitlines() if "CONFORM" in line), "no report")
    return SoakRun(
        api=api,
        requests=int(found.group(1)) if found else 0,
        server_errors=classes.get("5xx", 0),
        verdict=verdict,
        exit_code=result.returncode,
        seconds=round(time.monotonic() - started, 1),
        report=result.stdout,
    )


@dataclass(frozen=True)
class Held:
    files: int  # in the store's folder, sessions' included
    descriptors: int  # open in the mock's processes
    rss_mb: float

    def line(self, label: str) -> str:
        return f"| {label} | {self.files} | {self.descriptors} | {self.rss_mb:.0f} |"


def held(mock: targets.Running, folder: Path) -> Held:
    time.sleep(3 * SESSION_IDLE_S)  # idle stores closed, closed sockets gone
    files = sum(1 for path in folder.rglob("*") if path.is_file() and path.name != "mock.log")
    return Held(files, mock.open_files(), mock.rss_mb())


def churn_round(root: str, number: int, sessions: int) -> None:
    """Make ``sessions`` sessions, use each (an account, a refund, a read), delete them."""
    with httpx.Client(base_url=root, timeout=60) as client:
        for index in range(sessions):
            name = {"X-Mock-Session": f"churn-{number}-{index}"}
            account = client.post("/__mock__/accounts", json={"current_balance": -50}, headers=name)
            token = account.raise_for_status().json()["token"]
            refund = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}
            created = client.post(
                f"/v3/accounts/{token}/refunds", json=refund, auth=MARQETA_AUTH, headers=name
            )
            created.raise_for_status()
            url = f"/v3/accounts/{token}/refunds/{created.json()['token']}"
            client.get(url, auth=MARQETA_AUTH, headers=name).raise_for_status()
            deleted = client.delete(f"/__mock__/sessions/{name['X-Mock-Session']}", headers=JSON)
            deleted.raise_for_status()


def churn(mock_args: list[str], folder: Path, rounds: int, sessions: int) -> list[tuple[str, Held]]:
    """Session churn with what the mock holds measured before, after, and after a restart."""
    measured = []
    with targets.our_mock(*mock_args) as mock:
        churn_round(mock.root, 0, sessions)  # warm: every code path loaded, pools made
        measured.append(("before the churn", held(mock, folder)))
        for number in range(1, rounds + 1):
            churn_round(mock.root, number, sessions)
        measured.append((f"after {rounds} x {sessions} sessions", held(mock, folder)))
    with targets.our_mock(*mock_args) as restarted:
        left = httpx.get(f"{restarted.root}/__mock__/sessions").json()["sessions"]
        if left:
            raise SystemExit(f"sessions left after the churn and a restart: {left}")
        churn_round(restarted.root, rounds + 1, sessions)
        measured.append(("after a restart and one more round", held(restarted, folder)))
    return measured


def churn_failures(measured: list[tuple[str, Held]]) -> list[str]:
    (_, start), *later = measured
    failures = []
    for label, now in later:
        if now.files != start.files:
            failures.append(f"{label}: {now.files} files, {start.files} before")
        if label.startswith("after ") and "restart" not in label:
            if now.descriptors != start.descriptors:
                failures.append(f"{label}: {now.descriptors} fds, {start.descriptors} before")
            if now.rss_mb > start.rss_mb * (1 + RSS_SLACK):
                failures.append(f"{label}: {now.rss_mb:.0f} MB, {start.rss_mb:.0f} before")
    return failures


def churn_under_load_runs(folder: Path, workers: int) -> list[ChurnResult]:
    """Deletes racing writes: SQLite with ``workers`` workers, PostgreSQL with two replicas."""
    from tests.postgres import postgres_server

    runs = []
    start_data = folder / "churn-start.yaml"
    start_data.write_text(START_DATA)
    sqlite = ["--seed", str(start_data), "--store", f"sqlite:{folder / 'load.db'}"]
    with targets.our_mock(*sqlite, "--workers", str(workers)) as mock:
        runs.append(churn_under_load(f"SQLite, {workers} workers", [mock.root]))
    with postgres_server() as server:
        database = ["--seed", str(start_data), "--store", server.new_database()]
        with targets.our_mock(*database) as one, targets.our_mock(*database) as other:
            runs.append(churn_under_load("PostgreSQL, 2 replicas", [one.root, other.root]))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=150)
    parser.add_argument("--min-requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--churn-rounds", type=int, default=10)
    parser.add_argument("--churn-sessions", type=int, default=40, help="sessions per round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "mock.log"
        store = f"sqlite:{Path(folder) / 'soak.db'}"
        with targets.our_mock("--store", store, "--workers", str(args.workers), log=log) as mock:
            runs = [soak(api, mock.root, args.max_examples, args.seed) for api in APIS]
        tracebacks = log.read_text(errors="replace").count("Traceback")
        churn_store = Path(folder) / "churn"
        churn_store.mkdir()
        churn_args = [
            "--store",
            f"sqlite:{churn_store / 'mock.db'}",
            "--workers",
            str(args.workers),
        ]
        churn_args += ["--session-idle", str(SESSION_IDLE_S)]
        measured = churn(churn_args, churn_store, args.churn_rounds, args.churn_sessions)
        under_load = churn_under_load_runs(Path(folder), args.workers)
    print(
        f"Soak: {args.workers} mock workers on SQLite, --max-examples {args.max_examples}, "
        f"seed {args.seed}"
    )
    print("| API | generated requests | 5xx | verdict | seconds |")
    print("| --- | ---: | ---: | --- | ---: |")
    for run in runs:
        print(
            f"| {run.api} | {run.requests} | {run.server_errors} | {run.verdict} | {run.seconds} |"
        )
    print(f"tracebacks in the mock's log: {tracebacks}")
    print(f"\nSession churn: {args.workers} workers on SQLite, --session-idle {SESSION_IDLE_S}")
    print("| when | files | file descriptors | RSS MB (all processes) |")
    print("| --- | ---: | ---: | ---: |")
    for label, figures in measured:
        print(figures.line(label))
    print("\nSession churn under load: writes racing deletes of their session")
    print("| store | writes | deletes | 5xx | acknowledged after a delete, lost | verdict |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for run in under_load:
        print(run.line())
    churned = churn_failures(measured)
    churned += [f"{run.label}: lost {run.lost[:5]}" for run in under_load if not run.passed]
    for failure in churned:
        print(f"churn: {failure}")
    failed = [run for run in runs if not run.passed or run.requests < args.min_requests]
    for run in failed:
        print(f"\n{run.api} failed the soak:\n{run.report[-6000:]}")
    return 1 if failed or tracebacks or churned else 0


if __name__ == "__main__":
    sys.exit(main())
