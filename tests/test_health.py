"""Liveness and readiness probes: a load balancer takes a replica whose store cannot answer out
of rotation (readiness 503) without restarting it (liveness 200); the probes need no token and
answer with the control API off. Readiness across a database restart under two replicas is in
tests/test_replicas.py."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx
import psycopg
import yaml

from mock_server.app import MockConfig
from mock_server.control.health import Probes
from mock_server.faults import FaultBook, Faults
from mock_server.store import Store, StoreUnavailable
from tests.support import ROOT, serve

LIVE = "/__mock__/health/live"
READY = "/__mock__/health/ready"


def test_the_probes_answer_any_host_without_the_token_the_control_api_asks():
    with serve(MockConfig(control_token="s3cret")) as mock:
        assert httpx.get(f"{mock.root}/__mock__/state").status_code == 401  # the control API
        for path, body in (
            (LIVE, {"status": "live"}),
            (READY, {"status": "ready", "store": "memory"}),
        ):
            answer = httpx.get(f"{mock.root}{path}", headers={"Host": "lb.internal:8080"})
            assert (answer.status_code, answer.json()) == (200, body)


def test_the_probes_answer_with_the_control_api_off():
    with serve(MockConfig(control=False)) as mock:
        assert httpx.get(f"{mock.root}/__mock__/state").status_code == 404
        assert httpx.get(f"{mock.root}{LIVE}").json() == {"status": "live"}
        assert httpx.get(f"{mock.root}{READY}").json() == {"status": "ready", "store": "memory"}


def test_a_sqlite_store_whose_file_is_gone_is_not_ready_but_the_mock_is_live(tmp_path: Path):
    database = tmp_path / "mock.db"
    with serve(MockConfig(store=f"sqlite:{database}")) as mock:
        assert httpx.get(f"{mock.root}{READY}").json() == {"status": "ready", "store": "sqlite"}
        database.unlink()  # removed under the running mock (a cleaned-up volume)
        ready = httpx.get(f"{mock.root}{READY}")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert str(database) in ready.json()["reason"]
        assert httpx.get(f"{mock.root}{LIVE}").status_code == 200


class StuckBackend:
    """A store whose reads wait until the test lets them go (a database behind a dead host)."""

    shared = False
    kind = "postgresql"

    def __init__(self) -> None:
        self.answer = threading.Event()
        self.pinged = 0

    def ping(self) -> None:
        self.pinged += 1
        if not self.answer.wait(timeout=60):
            raise StoreUnavailable("never answered")

    def open(self) -> Store:
        raise NotImplementedError

    def open_session(self, name: str, max_sessions: int) -> Store:
        raise NotImplementedError

    def stored_sessions(self) -> list[str]:
        return []

    def session_stored(self, name: str) -> bool:
        return False

    def remove_session(self, name: str) -> None:
        pass

    def stamp_session(self, name: str, at: float) -> None:
        pass

    def unused_sessions(self, before: float, now: float) -> list[str]:
        return []

    def faults(self) -> Faults:
        return FaultBook()

    def described(self) -> str:
        return "stuck"

    def close(self) -> None:
        pass


def test_a_store_that_does_not_answer_in_time_is_not_ready_and_its_waits_do_not_pile_up():
    backend = StuckBackend()
    probes = Probes(backend, within_s=0.01)
    try:
        for _ in range(5):  # a probe every few seconds while the database host is dead
            body, status = probes.ready()
            assert status == 503
            assert body["reason"] == "the store did not answer within 0.01 s"
        assert backend.pinged <= 2  # the stuck pings, at most; the others queue behind them
        backend.answer.set()
        probes_after = Probes(backend, within_s=5)
        assert probes_after.ready() == ({"status": "ready", "store": "postgresql"}, 200)
        probes_after.close()
    finally:
        backend.answer.set()
        probes.close()


def test_a_postgresql_database_busy_with_a_long_transaction_is_still_ready(postgres):
    database = postgres.new_database()
    with (
        serve(MockConfig(store=database)) as mock,
        psycopg.connect(database) as holder,
        holder.transaction(),
    ):
        # The mock's records locked against readers and writers alike.
        holder.execute("LOCK TABLE refund_mock_records IN ACCESS EXCLUSIVE MODE")
        ready = httpx.get(f"{mock.root}{READY}", timeout=30)
        assert (ready.status_code, ready.json()["status"]) == (200, "ready")


def test_the_probe_paths_docs_deploying_md_configures_are_served():
    page = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", page[page.index("## Health checks") :], re.S)
    assert block is not None, "no yaml block under ## Health checks"
    container = yaml.safe_load(block.group(1))
    probes = [container["livenessProbe"], container["readinessProbe"]]
    with serve(MockConfig(control_token="s3cret")) as mock:
        for probe in probes:
            answer = httpx.get(
                f"{mock.root}{probe['httpGet']['path']}", headers={"Host": "10.0.0.7"}
            )
            assert answer.status_code == 200, probe
