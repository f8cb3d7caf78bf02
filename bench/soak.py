"""``make soak``: a long conformance run per API against two mock workers on one SQLite file.

Schemathesis generates positive and negative requests for every operation, follows the
contracts' links and runs the behaviour tests; the soak passes when both APIs conform, no
response is a 5xx and each API got at least ``--min-requests`` generated requests.
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

from bench import targets

ROOT = targets.ROOT
APIS = {
    "marqeta": ("/v3", "demo_app_token:demo_access_token"),
    "balanced": ("/v1", "ak-test-demo-secret:"),
}
ANSWERED = re.compile(r"generated requests: (\d+)(?: \(([^)]*)\))?")


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=150)
    parser.add_argument("--min-requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "mock.log"
        store = f"sqlite:{Path(folder) / 'soak.db'}"
        with targets.our_mock("--store", store, "--workers", str(args.workers), log=log) as mock:
            runs = [soak(api, mock.root, args.max_examples, args.seed) for api in APIS]
        tracebacks = log.read_text(errors="replace").count("Traceback")
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
    failed = [run for run in runs if not run.passed or run.requests < args.min_requests]
    for run in failed:
        print(f"\n{run.api} failed the soak:\n{run.report[-6000:]}")
    return 1 if failed or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
