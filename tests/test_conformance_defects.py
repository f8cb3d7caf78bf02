"""The conformance suite finds planted defects, and never cries wolf on the correct mock."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from unittest import mock

import pytest

from mock_server.app import MockConfig
from tests.defects import DEFECTS, Defect, proxy
from tests.support import DEMO_AUTH, ROOT, serve, serve_app

AUTH = {"marqeta": ":".join(DEMO_AUTH), "balanced": "ak-test-demo-secret:"}
BASE = {"marqeta": "/v3", "balanced": "/v1"}


def conformance(api: str, root: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``python -m conformance run`` against ``root``, as a user runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--api",
            api,
            "--base-url",
            root + BASE[api],
            "--auth",
            AUTH[api],
            "--max-examples",
            "5",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.name for d in DEFECTS])
def test_each_planted_defect_is_reported(defect: Defect):
    with ExitStack() as stack:
        for target, replacement in defect.patches:
            stack.enter_context(mock.patch(target, replacement))
        upstream = stack.enter_context(serve(MockConfig()))
        app, _ = proxy(upstream.root, defect)
        root = stack.enter_context(serve_app(app))
        result = conformance(defect.api, root, "--seed", "1")
    report = result.stdout
    assert result.returncode == 1, report[-3000:] + result.stderr[-2000:]
    assert defect.detected_as in report, report[-4000:]
    for line in defect.also_shows:
        assert line in report, report[-4000:]
    assert "Value:" not in report  # the expectation, not Schemathesis' dump of the whole body
    assert "reproduce: curl" in report
    assert "demo_access_token" not in report  # credentials are redacted
