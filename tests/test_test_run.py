"""What ``make test`` relies on to stay short: tests that share an expensive fixture (the
installed kit's virtualenv, a planted defect's conformance run) meet in one test process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("shared")


@pytest.mark.parametrize("number", range(4))
def test_shared(number):
    pass
"""


def test_tests_of_one_xdist_group_run_in_one_worker(tmp_path: Path):
    """pytest-xdist 3.8 groups by suffixing node ids, which pytest 9.2 no longer lets it do
    (pytest-xdist#1386): under it each worker would build the installed kit and repeat shared
    runs, minutes more. requirements.lock pins a pytest that groups."""
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    ran = re.findall(r"^\[(gw\d+)\].* PASSED ", result.stdout, re.M)
    assert len(ran) == 4, result.stdout[-3000:]
    workers = set(ran)
    assert len(workers) == 1, f"one group ran on {sorted(workers)}: pytest-xdist#1386"
