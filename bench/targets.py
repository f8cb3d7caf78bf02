"""The servers a benchmark loads: our mock, Stoplight Prism on our contracts, the bare ceiling.

Each runs as its own process on a free 127.0.0.1 port and is stopped when its block ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
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
BASELINES = ROOT / "bench" / ".baseline"  # earlier commits' sources, for A/B rows (ignored)
PRISM_VERSION = "5.14.2"


@dataclass
class Running:
    name: str
    root: str  # what request paths are appended to
    process: subprocess.Popen[bytes]

    def group(self) -> list[int]:
        """The pids of the process and everything it started (its process group)."""
        return _processes_with(_GROUP, self.process.pid)

    def open_files(self) -> int:
        """File descriptors the group holds (sockets, store files, pipes)."""
        return sum(len(list(Path(f"/proc/{pid}/fd").iterdir())) for pid in self.group())

    def rss_mb(self) -> float:
        """Resident memory of the whole group now, in MB."""
        return sum(_status_kb(pid, "VmRSS") for pid in self.group()) / 1024

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MB."""
        return _status_kb(self.process.pid, "VmHWM") / 1024

    def cpu_seconds(self) -> float:
        """CPU time the group has used so far (user and system, workers included)."""
        return sum(cpu_seconds(pid) for pid in self.group())


_TICKS = os.sysconf("SC_CLK_TCK")
_PARENT, _GROUP = 1, 2  # fields of /proc/PID/stat, counted after the command name


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (None once the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _processes_with(field: int, value: int) -> list[int]:
    """The pids whose /proc/PID/stat ``field`` is ``value`` (a parent's or a group's pid)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(entry.name)
        if fields is not None and int(fields[field]) == value:
            pids.append(int(entry.name))
    return pids


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of the process ``pid`` and of its children it has reaped:
    ended processes are counted in their parent (0 once it is gone)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return sum(int(field) for field in fields[11:15]) / _TICKS  # utime stime cutime cstime


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of the process ``pid`` and of its live children (a PostgreSQL server: the
    postmaster and a backend per connection)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in _processes_with(_PARENT, pid))


def _status_kb(pid: int, field: str) -> int:
    """A kilobyte figure of /proc/PID/status (0 once the process is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith(field))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    """Seconds until ``url`` answers anything (a 401 counts: the server is up)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return time.monotonic() - started
        except httpx.TransportError:
            time.sleep(0.02)
    raise SystemExit(f"{url} did not answer within {timeout} s")


@contextmanager
def serve(
    name: str,
    command: list[str],
    port: int,
    ready_path: str,
    log: Path | None = None,
    cwd: Path = ROOT,
) -> Iterator[Running]:
    """Run ``command`` until the block ends; its output goes to ``log`` (or nowhere)."""
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log.open("wb")) if log is not None else subprocess.DEVNULL
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # workers and all: stopped as one group
        )
        try:
            wait_until_ready(f"http://127.0.0.1:{port}{ready_path}", process)
            yield Running(name, f"http://127.0.0.1:{port}", process)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever the group left behind


def baseline_sources(commit: str) -> Path:
    """The sources of ``commit`` (a tag, branch or hash), unpacked once into bench/.baseline/.

    Its ``mock_server.contracts`` is its own ``openapi/`` (pyproject maps them so when
    installed; here a link does it)."""
    resolved = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{commit}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    folder = BASELINES / resolved[:12]
    if not (folder / "mock_server").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", resolved, "mock_server", "openapi"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        contracts = folder / "mock_server" / "contracts"
        if not contracts.exists():
            contracts.symlink_to(Path("..") / "openapi")
    return folder


@contextmanager
def baseline_mock(commit: str, *extra: str) -> Iterator[Running]:
    """The mock as it was at ``commit``, with this run's Python and dependencies."""
    port = free_port()
    with serve(
        f"baseline {commit}",
        mock_command(port, *extra),
        port,
        "/__mock__/health",
        cwd=baseline_sources(commit),
    ) as running:
        yield running


def mock_command(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mock_server", "--port", str(port), "--no-demo", *extra]


@contextmanager
def our_mock(*extra: str, log: Path | None = None) -> Iterator[Running]:
    port = free_port()
    with serve("ours", mock_command(port, *extra), port, "/__mock__/health", log) as running:
        yield running


@contextmanager
def proxy(api: str, target: str) -> Iterator[Running]:
    """``refund-mock proxy`` of ``api`` in front of ``target``, as a user runs it."""
    port = free_port()
    command = [sys.executable, "-m", "mock_server", "proxy", "--api", api, "--target", target]
    command += ["--port", str(port)]
    with serve("proxy", command, port, "/__mock__/proxy/report") as running:
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
