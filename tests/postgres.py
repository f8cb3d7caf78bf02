"""A throwaway PostgreSQL server for the tests: made in a temporary folder, on 127.0.0.1 and a
free port, and removed afterwards.

PostgreSQL refuses to run as root, and CI runs the tests as root: then the server runs as the
``postgres`` user (or ``nobody``), owning its folder. The binaries come from the ``pgserver``
wheel (installed by ``make``, no root needed), else from Debian's package where it is installed.

pytest-postgresql was weighed for this and not taken: it runs ``pg_ctl`` as the user running
the tests, and PostgreSQL refuses root, which is what CI runs as.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support import free_port

SUPERUSER = "refund_mock"
START_TIMEOUT_S = 60


def binaries() -> Path:
    """Where ``initdb`` and ``postgres`` are: the pgserver wheel's, else the system's."""
    for folder in (wheel_binaries(), *system_binaries()):
        if folder is not None and (folder / "initdb").exists():
            return folder
    raise RuntimeError("no PostgreSQL server binaries: run `make` (it installs pgserver)")


def wheel_binaries() -> Path | None:
    """The pgserver wheel's binaries, found without importing it (its import starts nothing,
    but loads what its own server management needs, which the tests do not)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def system_binaries() -> list[Path]:
    """Debian's, newest version first."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return [initdb.parent for initdb in found]


def reachable_by(user: str, folder: Path, into: Path) -> Path:
    """``folder`` (a binaries folder) if ``user`` can run what is in it, else a copy of its
    installation in ``into``: a virtualenv under /root is closed to other users."""
    probe = subprocess.run(["test", "-x", str(folder / "postgres")], user=user, check=False)
    if probe.returncode == 0:
        return folder
    install = folder.parent
    shutil.copytree(install, into / install.name, symlinks=True)
    return into / install.name / folder.name


@dataclass
class PostgresServer:
    folder: Path
    port: int
    bin: Path  # initdb's and postgres's folder
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        name = f"t{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.folder / "data"),
                "-p",
                str(self.port),
                "-k",
                str(self.folder),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",  # a test server: a power cut is not what is tested
            ],
            stdout=(self.folder / "server.log").open("ab"),
            stderr=subprocess.STDOUT,
            user=_unprivileged_user(),
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "server.log").read_text(errors="replace")
                    raise RuntimeError(f"PostgreSQL did not start:\n{log[-2000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """A fast shutdown (SIGINT): open connections are cut, nothing committed is lost."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    folder = Path(tempfile.mkdtemp(prefix="refund-mock-pg-"))
    folder.chmod(0o755)
    server = PostgresServer(folder, free_port(), binaries())
    try:
        unprivileged = _unprivileged_user()
        if unprivileged:
            server.bin = reachable_by(unprivileged, server.bin, folder)
            account = pwd.getpwnam(unprivileged)
            os.chown(folder, account.pw_uid, account.pw_gid)
        subprocess.run(
            [
                str(server.bin / "initdb"),
                "-D",
                str(folder / "data"),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=unprivileged,
        )
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _unprivileged_user() -> str | None:
    """The user to run PostgreSQL's commands as when we are root (it refuses root); None
    otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root, and no unprivileged user to run PostgreSQL as")
