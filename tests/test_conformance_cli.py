"""``python -m conformance run`` as users run it: verdicts, exit codes, report, options."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import httpx
import pytest

from mock_server.app import MockConfig, build_app
from tests.defects import proxy
from tests.support import serve_app
from tests.test_conformance_defects import AUTH, BASE, ROOT, conformance


@pytest.fixture(scope="module")
def mock_root():
    """The mock as `make run` serves it: without checking its own responses, so that anything
    it gets wrong reaches the conformance suite instead of becoming a 500."""
    with serve_app(build_app(MockConfig())) as root:
        yield root


@pytest.mark.parametrize("api", ["marqeta", "balanced"])
def test_a_transparent_proxy_changes_nothing(mock_root, api):
    """The defect tests' proxy, with no defect planted, passes: what they find is the defect."""
    app, log = proxy(mock_root)
    with serve_app(app) as root:
        result = conformance(api, root, "--seed", "3")
    assert result.returncode == 0, result.stdout[-4000:]
    assert len(log.methods) > 100


@pytest.mark.parametrize("api", ["marqeta", "balanced"])
def test_correct_mock_conforms_under_five_seeds(mock_root, api):
    for seed in range(1, 6):
        result = conformance(api, mock_root, "--seed", str(seed))
        assert result.returncode == 0, f"seed {seed}:\n" + result.stdout[-4000:]
        assert "CONFORMS:" in result.stdout and "0 failed" in result.stdout


def test_report_names_every_operation_and_the_checks_that_ran(mock_root):
    result = conformance("marqeta", mock_root, "--seed", "1")
    report = result.stdout
    for line in (
        "PASS  POST /accounts/{account_token}/creditbalancerefunds",
        "PASS  GET /accounts/{account_token}/refunds/{refund_token}/transitions",
        "PASS  create refund -> retrieve -> transition -> list",
        "PASS  A refund larger than the credit balance is refused and moves nothing.",
        "response_schema_conformance",
        "marqeta_list_sorted_as_requested",
    ):
        assert line in report, line
    assert "balanced_page_links" not in report  # only the checks that apply to this API
    assert "demo_access_token" not in report + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api", "paypal", "--base-url", "http://127.0.0.1:1/v3"], "--api must be one of"),
        (["--api", "marqeta"], "--base-url"),
        (["--api", "marqeta", "--base-url", "ftp://x"], "--base-url must be an http"),
        (["--api", "marqeta", "--base-url", "http://x/v3", "--auth", "nocolon"], "USER:PASS"),
        (
            ["--api", "marqeta", "--base-url", "http://x/v3", "--fixtures", "nope.yaml"],
            "no such file",
        ),
    ],
)
def test_usage_errors_exit_2_with_a_message(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_unreachable_target_exits_2():
    result = conformance("marqeta", "http://127.0.0.1:9")  # discard port: nothing listens
    assert result.returncode == 2
    assert "target unreachable" in result.stdout + result.stderr


def test_help_explains_each_option():
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    for option in (
        "--api",
        "--base-url",
        "--auth",
        "--fixtures",
        "--read-only",
        "--junit-xml",
        "--max-examples",
        "--seed",
        "--max-rps",
        "--time-limit",
    ):
        assert option in result.stdout


def test_junit_xml_lists_every_test_without_credentials(mock_root, tmp_path):
    junit = tmp_path / "conformance.xml"
    result = conformance("balanced", mock_root, "--seed", "1", "--junit-xml", str(junit))
    assert result.returncode == 0
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests")) >= 25
    assert int(suite.get("failures")) == 0


def test_read_only_run_sends_no_writes(mock_root):
    app, log = proxy(mock_root)
    with serve_app(app) as root:
        result = conformance("marqeta", root, "--seed", "1", "--read-only")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "read-only" in result.stdout
    writes = [method for method in log.methods if method not in ("GET", "HEAD", "OPTIONS")]
    assert writes == [], f"a read-only run sent {sorted(set(writes))}"
    assert log.methods, "nothing was sent at all"


def test_fixtures_file_supplies_setup_data_for_a_target_that_is_not_the_mock(mock_root, tmp_path):
    spare = httpx.post(f"{mock_root}/__mock__/accounts", json={"current_balance": -5000}).json()
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text(
        "marqeta:\n"
        f"  refundable_accounts: [demo_account_credit_balance, {spare['token']}]\n"
        "  non_negative_balance_account: demo_account_zero_balance\n"
    )
    app, _ = proxy(mock_root, prefix="/gateway")  # the control API is not found behind it
    with serve_app(app) as root:
        result = conformance(
            "marqeta", root + "/gateway", "--seed", "1", "--fixtures", str(fixtures)
        )
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"fixtures file {fixtures}" in result.stdout
    assert "SKIP  The largest refund is the credit balance" in result.stdout
    assert "only the mock can make" in result.stdout


def test_without_setup_data_tests_that_need_it_are_skipped_saying_why(mock_root):
    app, _ = proxy(mock_root, prefix="/gateway")
    with serve_app(app) as root:
        result = conformance("balanced", root + "/gateway", "--seed", "1")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "pass --fixtures FILE" in result.stdout


def test_time_limit_stops_starting_tests(mock_root):
    result = conformance("marqeta", mock_root, "--seed", "1", "--time-limit", "0.01")
    assert "time limit of 0.01 s reached" in result.stdout
    assert "0 failed" in result.stdout


def test_max_rps_paces_the_requests(mock_root):
    app, log = proxy(mock_root)
    with serve_app(app) as root:
        started = time.monotonic()
        result = conformance("balanced", root, "--seed", "1", "--max-rps", "40", "--read-only")
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(log.methods) / elapsed <= 40 * 1.1, f"{len(log.methods)} requests in {elapsed:.1f}s"


def test_pytest_runs_the_suite_with_the_same_options(mock_root):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--pyargs",
            "conformance.suite",
            "--conformance-api",
            "marqeta",
            "--conformance-base-url",
            mock_root + BASE["marqeta"],
            "--conformance-auth",
            AUTH["marqeta"],
            "--conformance-max-examples",
            "3",
            "--conformance-seed",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "CONFORMS:" in result.stdout
    assert "deselected" in result.stdout  # the Balanced tests are not run for --api marqeta
