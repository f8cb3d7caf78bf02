"""The servers a benchmark loads: our mock, Stoplight Prism on our contracts, the bare ceiling.

Each runs as its own process on a free 127.0.0.1 port and is stopped when its block ends.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PRISM_DIR = ROOT / "bench" / ".prism"  # npm installs Prism here (ignored by git)
PRISM_VERSION = "5.14.2"


@dataclass
class Running:
    name: str
    root: str  # what request paths are appended to
    process: subprocess.Popen[bytes]

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kilobytes = next(
            line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")
        )
        return int(kilobytes) / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    """Seconds until ``url`` answers anything (a 401 counts: the server is up)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return time.monotonic() - started
        except httpx.TransportError:
            time.sleep(0.02)
    raise SystemExit(f"{url} did not answer within {timeout} s")


@contextmanager
def serve(
    name: str, command: list[str], port: int, ready_path: str, log: Path | None = None
) -> Iterator[Running]:
    """Run ``command`` until the block ends; its output goes to ``log`` (or nowhere)."""
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log.open("wb")) if log is not None else subprocess.DEVNULL
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(f"http://127.0.0.1:{port}{ready_path}", process)
            yield Running(name, f"http://127.0.0.1:{port}", process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def mock_command(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mock_server", "--port", str(port), "--no-demo", *extra]


@contextmanager
def our_mock(*extra: str, log: Path | None = None) -> Iterator[Running]:
    port = free_port()
    with serve("ours", mock_command(port, *extra), port, "/__mock__/health", log) as running:
        yield running


@contextmanager
def ceiling() -> Iterator[Running]:
    port = free_port()
    command = [sys.executable, str(ROOT / "bench" / "ceiling.py"), str(port)]
    with serve("ceiling", command, port, "/") as running:
        yield running


@contextmanager
def connexion_floor(contract: Path, base_path: str) -> Iterator[Running]:
    """Connexion serving ``contract`` under ``base_path`` as the mock does, doing no work."""
    port = free_port()
    script = ROOT / "bench" / "connexion_floor.py"
    command = [sys.executable, str(script), str(port), contract.name, base_path]
    with serve("connexion floor", command, port, base_path) as running:
        yield running


def ensure_prism() -> Path:
    binary = PRISM_DIR / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is needed to install Stoplight Prism")
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(PRISM_DIR),
                "--no-audit",
                "--no-fund",
                f"@stoplight/prism-cli@{PRISM_VERSION}",
            ],
            check=True,
            capture_output=True,
        )
    return binary


@contextmanager
def prism(contract: Path) -> Iterator[Running]:
    """Prism mocking ``contract`` (it serves the paths without the servers' base path)."""
    port = free_port()
    command = [str(ensure_prism()), "mock", str(contract), "-p", str(port), "-h", "127.0.0.1"]
    with serve("prism", command, port, "/") as running:
        yield running
