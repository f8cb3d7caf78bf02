"""How `make bench` combines its rounds and writes the capacity model: what docs/performance.md
and docs/deploying.md quote."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import report, targets
from bench.report import TARGETS, median_row


def _figures(requests_per_second: float, p99_ms: float, errors: int = 0) -> dict[str, float]:
    return {
        "requests_per_second": requests_per_second,
        "p50_ms": p99_ms / 4,
        "p99_ms": p99_ms,
        "max_ms": p99_ms * 2,
        "errors": errors,
        "requests": 100,
    }


def _round(ours: float, p99: float, errors: int = 0) -> dict[str, object]:
    row: dict[str, object] = {"api": "marqeta", "endpoint": "retrieve refund"}
    for target in TARGETS:
        row[target] = _figures(ours if target == "ours" else 1000.0, p99, errors)
    row["baseline"] = {"commit": "3bb43d1", **_figures(900.0, p99)}
    row["ceiling"] = _figures(5000.0, 1.0)
    return row


def test_an_endpoint_figure_is_the_median_of_its_rounds_with_every_round_kept():
    rounds = [_round(1200, 12.0), _round(800, 30.0, errors=2), _round(1000, 9.0)]
    row = median_row(rounds)
    assert row["rounds"] == 3
    assert row["ours"]["requests_per_second"] == 1000
    # Each figure is its own median: the round of the median throughput had the lowest p99.
    assert row["ours"]["p99_ms"] == 12.0
    assert row["ours"]["each_round"] == [1200, 800, 1000]
    assert row["ours"]["errors"] == 2  # errors of any round are never hidden by a median
    assert row["ours"]["requests"] == 300
    assert row["baseline"]["commit"] == "3bb43d1"
    assert row["ceiling"] == rounds[0]["ceiling"]  # measured once, before the rounds


def test_the_capacity_model_projects_cores_from_cpu_per_request():
    rows = [
        {"store": "postgresql", "processes": 2, "endpoint": "create refund"}
        | _figures(700, 20)
        | {"mock_cpu_ms": 1.4, "database_cpu_ms": 0.35},
        {"store": "memory", "processes": 1, "endpoint": "create refund"}
        | _figures(1100, 20)
        | {"mock_cpu_ms": 0.9, "database_cpu_ms": None},
    ]
    # 1000 req/s at 1.4 ms each is 1.4 cores of work: 2.0 cores at 70 % busy.
    assert report.cores_for(1000, 1.4) == pytest.approx(2.0)
    table = "\n".join(report.capacity_markdown(rows))
    assert "| store | processes | endpoint | CPU ms per request: mocks |" in table
    assert "| postgresql | 2 | create refund | 1.40 | 0.35 | 2.0 | 0.5 |" in table
    assert "| memory | 1 | create refund | 0.90 | - | 1.3 | - |" in table
    assert report.capacity_markdown([{k: v for k, v in rows[1].items() if "cpu" not in k}]) == []


def test_the_store_table_sets_one_postgresql_replicas_creates_against_sqlites():
    def row(store: str, processes: int, endpoint: str, rate: float) -> dict[str, object]:
        return {"store": store, "processes": processes, "endpoint": endpoint} | _figures(rate, 9)

    rows = [
        row("sqlite", 1, "create refund", 500),
        row("sqlite", 1, "retrieve refund", 900),
        row("sqlite", 2, "create refund", 800),
        row("postgresql", 1, "create refund", 310),
        row("postgresql", 1, "retrieve refund", 600),
        row("postgresql", 2, "create refund", 400),
    ]
    assert report.postgresql_creates_vs_sqlite(rows) == pytest.approx(0.62)
    table = "\n".join(report.store_markdown(rows))
    assert "| sqlite | 1 | 500 (9.0) | 900 (9.0) |" in table
    assert "| postgresql | 2 | 400 (9.0) |" in table
    assert "against SQLite's (one process): 62% (aim: 60%)" in table
    assert report.postgresql_creates_vs_sqlite(rows[:3]) is None


def test_cpu_time_is_read_for_a_process_and_the_children_it_ran():
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    runs_a_child = (
        f"import subprocess, sys; subprocess.run([sys.executable, '-c', {busy!r}]);"
        " print('ran', flush=True); input()"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", runs_a_child],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"ran\n"
        # The ended child's CPU counts in its parent (as an ended backend's does in PostgreSQL's
        # postmaster), and the tree's is at least the parent's.
        assert targets.cpu_seconds(parent.pid) >= 0.3
        assert targets.tree_cpu_seconds(parent.pid) >= targets.cpu_seconds(parent.pid)
    finally:
        parent.communicate(b"\n", timeout=30)
    assert targets.cpu_seconds(parent.pid) == 0.0  # reaped: nothing, not an error
