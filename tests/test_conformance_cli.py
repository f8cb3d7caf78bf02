"""``python -m conformance run`` as users run it: verdicts, exit codes, report, options."""

from __future__ import annotations

import base64
import functools
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from junitparser import JUnitXml

from conformance.http import RateLimiter
from mock_server.app import MockConfig, build_app
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from tests.defects import proxy, reads_run_of
from tests.support import (
    AUTH,
    BASE,
    DEMO_AUTH,
    ROOT,
    ConformanceRun,
    run_cli,
    run_conformance,
    run_with_junit,
    serve_app,
    with_mock,
)


@pytest.fixture(scope="module")
def mock_root():
    """The mock as `make run` serves it: without checking its own responses, so that anything
    it gets wrong reaches the conformance suite instead of becoming a 500."""
    with serve_app(build_app(MockConfig())) as root:
        yield root


@pytest.mark.parametrize("api", ["marqeta", pytest.param("balanced", marks=pytest.mark.soak)])
def test_a_transparent_proxy_changes_nothing(mock_root, api):
    """The defect tests' proxy, with no defect planted, passes: what they find is the defect."""
    app, log = proxy(mock_root)
    with serve_app(app) as root:
        result = run_conformance(api, root, "--seed", "3")
    assert result.returncode == 0, result.stdout[-4000:]
    assert len(log.methods) > 100


@pytest.fixture(scope="module")
def on_the_mock(
    mock_root: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, int], ConformanceRun]:
    """The run of an API with a seed against the correct mock, made once: several tests read
    one run's report and JUnit file (in the xdist group ``SEED_1``, so that under ``--dist
    loadgroup`` they meet in one process)."""

    @functools.cache
    def run(api: str, seed: int) -> ConformanceRun:
        junit = tmp_path_factory.mktemp("junit") / f"{api}.xml"
        return run_with_junit(api, mock_root, junit, "--seed", str(seed))

    return run


SEED_1 = pytest.mark.xdist_group("seed 1 on the correct mock")
SOAK = pytest.mark.soak


# That the suite cries no wolf is not left to one draw: one seed here (and every other run of
# these tests against the correct mock), four more in make soak.
@pytest.mark.parametrize("api", ["marqeta", "balanced"])
@pytest.mark.parametrize(
    "seed", [pytest.param(1, marks=SEED_1), *(pytest.param(n, marks=SOAK) for n in (2, 3, 4, 5))]
)
def test_the_correct_mock_conforms(on_the_mock, api, seed):
    result = on_the_mock(api, seed).result
    assert result.returncode == 0, result.stdout[-4000:]
    assert "CONFORMS:" in result.stdout and "0 failed" in result.stdout


@SEED_1
def test_report_names_every_operation_and_the_checks_that_ran(on_the_mock):
    result = on_the_mock("marqeta", 1).result
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
    result = run_conformance("marqeta", "http://127.0.0.1:9")  # discard port: nothing listens
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
        "--setup-data",
        "--read-only",
        "--junit-xml",
        "--max-examples",
        "--seed",
        "--max-rps",
        "--time-limit",
    ):
        assert option in result.stdout


@SEED_1
def test_junit_xml_lists_every_test_without_credentials(on_the_mock):
    run = on_the_mock("balanced", 1)
    assert run.result.returncode == 0
    suite = ElementTree.parse(run.junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) >= 25
    assert int(suite.get("failures", "0")) == 0
    assert DEMO_BALANCED_SECRET not in run.junit.read_text()


def test_read_only_run_sends_no_writes(mock_root):
    app, log = proxy(mock_root)
    with serve_app(app) as root:
        result = run_conformance("marqeta", root, "--seed", "1", "--read-only", "--allow-skips")
    assert result.returncode == 0, result.stdout[-3000:]
    # What it left out is listed, saying why, not dropped from the report.
    assert "SKIP  POST /accounts/{account_token}/refunds  (left out by --read-only" in result.stdout
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
        result = run_conformance(
            "marqeta", root + "/gateway", "--seed", "1", "--fixtures", str(fixtures)
        )
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"setup data file {fixtures}" in result.stdout
    assert "N/A   The largest refund is the credit balance" in result.stdout
    assert "only the mock can make" in result.stdout
    # One tally that adds up, and no pytest tally or stalled percentage beside it.
    assert re.search(
        r"CONFORMS: \d+ passed, 0 failed, \d+ not applicable to this target\n", result.stdout
    )
    assert "deselected" not in result.stdout and "%]" not in result.stdout


def test_without_setup_data_the_run_is_inconclusive_saying_what_is_missing(mock_root):
    app, _ = proxy(mock_root, prefix="/gateway")
    with serve_app(app) as root:
        result = run_conformance("balanced", root + "/gateway", "--seed", "1")
        accepted = run_conformance("balanced", root + "/gateway", "--seed", "1", "--allow-skips")
    assert result.returncode == 3, result.stdout[-3000:]
    assert "pass --setup-data FILE" in result.stdout and "INCONCLUSIVE" in result.stdout
    assert accepted.returncode == 0, accepted.stdout[-3000:]
    assert "CONFORMS" in accepted.stdout and "--allow-skips" in accepted.stdout


def test_time_limit_stops_starting_tests(mock_root):
    result = run_conformance("marqeta", mock_root, "--seed", "1", "--time-limit", "0.01")
    assert "(time limit of 0.01 s reached)" in result.stdout  # the reason alone, no stray quotes
    assert "0 failed" in result.stdout


def test_max_rps_spaces_the_behaviour_tests_requests_evenly():
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # a clock that moves only when the limiter waits
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(40, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == pytest.approx([0.0, 0.025, 0.025, 0.025, 0.025])


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -q ARGS`` run in ``folder``, as a project runs its tests."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_pytest_runs_the_suite_with_the_same_options(mock_root):
    result = pytest_in(
        ROOT,
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
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "CONFORMS:" in result.stdout
    assert "deselected" in result.stdout  # the Balanced tests are not run for --api marqeta


def test_the_plugin_leaves_other_projects_tests_alone(tmp_path):
    """The suite's plugin loads in every pytest run where the kit is installed: objects of any
    kind in a project's test module (a mock's ``call`` answers every attribute) collect as
    they would without it."""
    (tmp_path / "test_project.py").write_text(
        "from unittest.mock import call, sentinel\n\n\ndef test_project():\n    assert call\n"
    )
    result = pytest_in(tmp_path, str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout


# What CI reads ------------------------------------------------------------------------------


@SEED_1
def test_junit_names_the_suite_after_the_api_and_each_case_as_the_report_does(on_the_mock):
    run = on_the_mock("marqeta", 1)
    result, junit = run.result, run.junit
    assert result.returncode == 0, result.stdout[-3000:]
    (suite,) = list(JUnitXml.fromfile(str(junit)))
    assert suite.name == "marqeta"
    names = [case.name for case in suite]
    assert len(names) == len(set(names)) >= 25  # one case per operation, sequence and rule
    for name in names:
        assert name in result.stdout  # the report's own wording
    assert "POST /accounts/{account_token}/refunds" in names
    assert "hypothesis" not in junit.read_text().lower()  # no statistics blobs


@reads_run_of("missing required field")
def test_a_violation_in_junit_carries_expected_got_and_a_curl_line(planted):
    result, junit = (
        planted("missing required field").result,
        planted("missing required field").junit,
    )
    assert result.returncode == 1
    (suite,) = list(JUnitXml.fromfile(str(junit)))
    failing = [case for case in suite if not case.is_passed and not case.is_skipped]
    assert failing
    text = failing[0].result[0].text
    assert "expected: " in text and "got: " in text and "reproduce: curl" in text
    assert DEMO_AUTH[1] not in junit.read_text()  # the password never appears


@reads_run_of("missing required field")
def test_reproduce_lines_mask_the_credentials_only_in_one_spelling(planted):
    report = planted("missing required field").result.stdout
    assert "[Filtered]" not in report  # fields named like secrets (a refund's token) are data
    assert "authorization: [redacted]" in report.lower()
    assert DEMO_AUTH[1] not in report and base64_credentials() not in report


def base64_credentials() -> str:
    return base64.b64encode(":".join(DEMO_AUTH).encode()).decode()


@reads_run_of("transition answered 200")
def test_one_wrong_answer_seen_by_many_tests_is_one_finding(planted):
    report = planted("transition answered 200").result.stdout
    findings = [line for line in report.splitlines() if "200 is not a documented status" in line]
    assert len(findings) == 1, report[-4000:]
    assert "hit by:" in report
    # Not filed as a body missing error_code: that is a consequence of the wrong status.
    assert '"error_code" is a required property' not in report


def test_a_run_against_the_mock_leaves_the_developers_state_and_journal_alone():
    # A journal of 100 a session, and a run of some 700 requests: the developer's 30 stay.
    with serve_app(build_app(MockConfig(journal_size=100))) as mock_root:
        accounts = f"{mock_root}/v3/accounts?count=100"
        before_accounts = httpx.get(accounts, auth=DEMO_AUTH).json()
        for _ in range(29):
            httpx.get(accounts, auth=DEMO_AUTH)
        result = run_conformance("balanced", mock_root, "--seed", "1")
        assert result.returncode == 0, result.stdout[-3000:]
        after_accounts = httpx.get(accounts, auth=DEMO_AUTH).json()
        assert after_accounts == before_accounts
        assert httpx.get(f"{mock_root}/__mock__/sessions").json()["sessions"] == []
        journal = httpx.get(f"{mock_root}/__mock__/requests?limit=1000").json()["requests"]
    assert [entry["path"] for entry in journal] == ["/v3/accounts"] * 31


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-examples", "0"], "--max-examples must be at least 1, not 0"),
        (["--max-rps", "0"], "--max-rps must be at least 1"),
        (["--time-limit", "-1"], "--time-limit must be above 0"),
        (["--seed", "-5"], "--seed must be 0 or more"),
        (["--junit-xml", "/nonexistent/dir/r.xml"], "no folder /nonexistent/dir"),
    ],
)
def test_out_of_range_flags_are_refused_in_one_line(mock_root, args, message):
    result = run_conformance("marqeta", mock_root, *args)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("refund-conformance: error: ") and message in line
    assert not Path("/nonexistent/dir").exists()


@pytest.mark.parametrize(
    "content", ["marqeta: [1, 2\n", "- a list\n", "paypal:\n  x: 1\n", "marqeta:\n  wat: 1\n"]
)
def test_a_malformed_fixtures_file_is_refused_even_against_the_mock(mock_root, tmp_path, content):
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text(content)
    result = run_conformance("marqeta", mock_root, "--setup-data", str(fixtures))
    assert result.returncode == 2
    assert "--setup-data" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_two_data_files_are_named_apart_and_each_refused_for_the_other(
    mock_root, tmp_path, start_mock
):
    """The suite's setup data and the mock's start data: each command names the other's
    format when given it, the old spellings still work, and a setup data file given for this
    kit's mock is refused, saying why, rather than ignored."""
    setup = tmp_path / "setup.yaml"
    setup.write_text("marqeta:\n  refundable_accounts: [demo_account_credit_balance]\n")
    start = tmp_path / "start.yaml"
    start.write_text("marqeta:\n  accounts:\n    - token: acct_1\n      current_balance: -100\n")

    as_start_data = run_cli("--start-data", str(setup))
    assert as_start_data.returncode == 2
    assert "refund-conformance --setup-data) is another format" in as_start_data.stderr
    as_setup_data = run_conformance("marqeta", "http://127.0.0.1:9", "--setup-data", str(start))
    assert as_setup_data.returncode == 2
    assert "refund-mock --start-data) is another format" in as_setup_data.stderr

    for spelling in ("--setup-data", "--fixtures"):  # the old name, kept for a release
        on_the_mock = run_conformance("marqeta", mock_root, spelling, str(setup))
        assert on_the_mock.returncode == 2, on_the_mock.stdout[-2000:]
        (line,) = on_the_mock.stderr.strip().splitlines()
        assert "the target is this kit's mock" in line and "--setup-data is for other" in line
    for spelling in ("--start-data", "--seed"):
        _, root = start_mock(spelling, str(start))
        assert httpx.get(f"{root}/v3/accounts/acct_1", auth=DEMO_AUTH).status_code == 200


# Runs that repeat against one target and one setup data file ------------------------------


def _setup_file(mock_root: str, tmp_path: Path, *balances: float) -> tuple[Path, list[str]]:
    """A setup data file naming refundable accounts with ``balances`` (the first for the
    behaviour tests, the last for generated requests)."""
    made = [
        httpx.post(f"{mock_root}/__mock__/accounts", json={"current_balance": balance}).json()
        for balance in balances
    ]
    zero = httpx.post(f"{mock_root}/__mock__/accounts", json={"current_balance": 0}).json()
    tokens = [account["token"] for account in made]
    setup = tmp_path / "setup.yaml"
    setup.write_text(
        f"marqeta:\n  refundable_accounts: [{', '.join(tokens)}]\n"
        f"  non_negative_balance_account: {zero['token']}\n"
    )
    return setup, tokens


def _balance(mock_root: str, account: str) -> float:
    answer = httpx.get(f"{mock_root}/v3/accounts/{account}", auth=DEMO_AUTH).json()
    return float(answer["current_balance"])


def _runs(root: str, setup: Path, count: int) -> list[subprocess.CompletedProcess[str]]:
    return [
        run_conformance(
            "marqeta", root, "--seed", str(run), "--max-examples", "2", "--setup-data", str(setup)
        )
        for run in range(count)
    ]


@pytest.mark.soak
def test_five_runs_against_one_target_with_one_setup_data_file_each_conform(mock_root, tmp_path):
    """Each run gives back the refunds it made, so the next finds the credit balance it needs;
    none fails for want of setup data."""
    setup, (behaviour, _) = _setup_file(mock_root, tmp_path, -1250, -1250)
    app, _ = proxy(mock_root, prefix="/gateway")  # not recognised as this kit's mock
    with serve_app(app) as root:
        runs = _runs(root + "/gateway", setup, 5)
    for number, result in enumerate(runs, 1):
        assert result.returncode == 0, f"run {number}:\n{result.stdout[-3000:]}{result.stderr}"
        assert "gave back" in result.stdout
    # Only what cannot be undone (balance refunds of 0.01) is spent for good.
    assert -1250 <= _balance(mock_root, behaviour) < -1249


@pytest.mark.soak
def test_one_account_for_everything_runs_once_then_says_what_to_refill(mock_root, tmp_path):
    """The QA engineer's first file: one account, which generated balance refunds empty. The
    next run is inconclusive, naming the account; no run blames the target."""
    setup, (account,) = _setup_file(mock_root, tmp_path, -1250)
    app, _ = proxy(mock_root, prefix="/gateway")
    with serve_app(app) as root:
        first, second = _runs(root + "/gateway", setup, 2)
    assert first.returncode == 0, first.stdout[-3000:]
    if _balance(mock_root, account) > -1:  # the generated requests emptied it
        assert second.returncode == 3, second.stdout[-2000:] + second.stderr
        (line,) = second.stderr.strip().splitlines()
        assert line.startswith("refund-conformance: INCONCLUSIVE: the setup data cannot carry")
        assert account in line and "refill its credit balance" in line
    else:
        assert second.returncode == 0, second.stdout[-3000:]


@pytest.mark.soak
def test_five_runs_on_setup_data_that_runs_out_are_never_a_violation(mock_root, tmp_path):
    """The behaviour account holds a cent more than a run needs: what a run cannot give back
    (balance refunds) empties it within a few runs. Each run conforms until then, and each
    after it is inconclusive, naming the account to refill: none blames the target."""
    setup, (behaviour, _) = _setup_file(mock_root, tmp_path, -1.01, -1250)
    app, _ = proxy(mock_root, prefix="/gateway")
    with serve_app(app) as root:
        runs = _runs(root + "/gateway", setup, 5)
    codes = [result.returncode for result in runs]
    assert codes[0] == 0, runs[0].stdout[-3000:] + runs[0].stderr
    assert 3 in codes and codes == sorted(codes), codes  # conclusive runs, then inconclusive
    for result in runs[codes.index(3) :]:
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("refund-conformance: INCONCLUSIVE: the setup data cannot carry")
        assert behaviour in line and "refill its credit balance" in line


def _balanced_setup_file(mock_root: str, tmp_path: Path) -> Path:
    """Balanced setup data as a QA engineer writes it for a sandbox: a marketplace with two
    accounts, a pending and a failed debit, and a debit whose remainder is more than the
    marketplace holds in escrow (until the debits runs make fill it)."""
    debits = [{"amount": 1000, "status": "pending"}, {"amount": 900, "status": "failed"}]
    seeded = {
        "name": "QA",
        "in_escrow": 100,
        "accounts": [{"debits": debits}, {"debits": [{"amount": 5000}]}],
    }
    made = httpx.post(
        f"{mock_root}/__mock__/seed", json={"balanced": {"marketplaces": [seeded]}}
    ).json()["balanced"]["marketplaces"][0]
    pending, failed = made["accounts"][0]["debits"]
    (short,) = made["accounts"][1]["debits"]
    setup = tmp_path / f"balanced-setup-{made['id']}.yaml"
    setup.write_text(
        "balanced:\n"
        f"  marketplace_id: {made['id']}\n"
        f"  accounts: [{made['accounts'][0]['id']}, {made['accounts'][1]['id']}]\n"
        f"  pending_debit_uri: {pending['uri']}\n"
        f"  failed_debit_uri: {failed['uri']}\n"
        f"  escrow_short_debit_uri: {short['uri']}\n"
    )
    return setup


@pytest.mark.soak
def test_five_balanced_runs_on_one_setup_data_file_are_never_a_violation(mock_root, tmp_path):
    """Balanced refunds cannot be undone, and the debits a run makes fill the marketplace's
    escrow: once it holds more than the escrow-short debit's remainder, that debit can no
    longer show the escrow rule, and the run says so instead of blaming the target."""
    setup = _balanced_setup_file(mock_root, tmp_path)
    app, _ = proxy(mock_root, prefix="/gateway")
    with serve_app(app) as root:
        runs = [
            run_conformance(
                "balanced",
                root + "/gateway",
                "--seed",
                str(run),
                "--max-examples",
                "2",
                "--setup-data",
                str(setup),
            )
            for run in range(5)
        ]
    codes = [result.returncode for result in runs]
    assert codes[0] == 0, runs[0].stdout[-3000:] + runs[0].stderr
    assert set(codes) <= {0, 3} and codes == sorted(codes), codes
    for result in runs[1:]:
        if result.returncode == 3:
            (line,) = result.stderr.strip().splitlines()
            assert "balanced.escrow_short_debit_uri" in line and "name another" in line


def test_balanced_setup_data_that_cannot_carry_a_run_is_inconclusive(mock_root, tmp_path):
    """A debit named as pending that has since settled, and an escrow that outgrew the
    escrow-short debit: inconclusive, each key named, before any case runs."""
    setup = _balanced_setup_file(mock_root, tmp_path)
    named = dict(line.strip().split(": ", 1) for line in setup.read_text().splitlines()[1:])
    marketplace = named["marketplace_id"]
    pending = named["pending_debit_uri"].rsplit("/", 1)[-1]
    control = f"{mock_root}/__mock__/marketplaces/{marketplace}"
    assert httpx.put(f"{control}/debits/{pending}/status", json={"status": "succeeded"}).is_success
    assert httpx.put(f"{control}/escrow", json={"in_escrow": 10_000}).is_success
    line = _inconclusive_behind_a_gateway(mock_root, "balanced", setup)
    assert f"balanced.pending_debit_uri: {named['pending_debit_uri']} is succeeded" in line
    assert "balanced.escrow_short_debit_uri" in line and "name another" in line


def _verdicts(report: str) -> dict[str, str]:
    """Each test's verdict in a report (PASS, FAIL, SKIP, N/A), by its title."""
    lines = re.findall(r"^\s+(PASS|FAIL|SKIP|N/A)\s+(.+)$", report, re.MULTILINE)
    return {title: verdict for verdict, title in lines}


@pytest.mark.soak
@pytest.mark.parametrize("api", ["marqeta", "balanced"])
def test_through_the_proxy_the_suite_finds_what_it_finds_without_it(mock_root, tmp_path, api):
    """refund-mock proxy in front of our mock: the suite's verdicts are those it gives the mock
    behind a plain gateway (both tested as a sandbox is, with setup data), and no answer broke
    the contract (the suite's negative requests do, on purpose: flagged, and answered as the
    mock answers them)."""

    def setup_data() -> Path:  # one each: a Balanced run's debits fill the escrow for good
        if api == "marqeta":
            return _setup_file(mock_root, tmp_path, -1250, -1250)[0]
        return _balanced_setup_file(mock_root, tmp_path)

    gateway, _ = proxy(mock_root, prefix="/gateway")
    with serve_app(gateway) as plain, with_mock(f"{mock_root}{BASE[api]}", api=api) as proxied:
        direct = run_conformance(
            api, plain + "/gateway", "--seed", "1", "--setup-data", str(setup_data())
        )
        through = run_conformance(api, proxied, "--seed", "1", "--setup-data", str(setup_data()))
        report = httpx.get(f"{proxied}/__mock__/proxy/report").json()
    assert direct.returncode == 0, direct.stdout[-3000:]
    assert through.returncode == 0, through.stdout[-3000:]
    assert _verdicts(through.stdout) == _verdicts(direct.stdout)
    assert report["exchanges"] > 100, report
    broken = {rule for entry in report["operations"].values() for rule in entry["violations"]}
    assert broken <= {"request_validation"}, report


def test_setup_data_that_ran_out_is_inconclusive_naming_what_to_refill(mock_root, tmp_path):
    setup, (account,) = _setup_file(mock_root, tmp_path, -0.5)
    line = _inconclusive_behind_a_gateway(mock_root, "marqeta", setup)
    assert f"{account} has current_balance -0.5" in line and "refill" in line


def _inconclusive_behind_a_gateway(mock_root: str, api: str, setup: Path) -> str:
    """The one line a run against the mock behind a gateway (a sandbox, to the suite) says when
    ``setup`` cannot carry it: inconclusive, nothing blamed on the target."""
    app, _ = proxy(mock_root, prefix="/gateway")
    with serve_app(app) as root:
        result = run_conformance(api, root + "/gateway", "--setup-data", str(setup))
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr
    assert "DOES NOT CONFORM" not in result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("refund-conformance: INCONCLUSIVE: the setup data cannot carry a run")
    return line
