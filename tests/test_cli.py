"""``python -m mock_server`` as a user runs it: options, start-up log, credentials, Ctrl-C."""

from __future__ import annotations

import gc
import subprocess
import sys

import httpx
import pytest

from mock_server.__main__ import config_from, parse_args
from mock_server.app import MockConfig, build_app
from tests.support import DEMO_AUTH, ROOT, serve_app, stop


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_explains_every_option():
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--host", "--port", "--no-demo", "--seed", "--auth", "--no-control"):
        assert option in result.stdout


def test_start_up_log_prints_urls_credentials_and_accounts_and_ctrl_c_stops(start_mock):
    process, root = start_mock()
    output = stop(process)
    assert process.returncode == 0
    assert f"{root}/v3" in output and f"{root}/v3/credit" in output
    assert f"{root}/v3/ui/" in output and f"{root}/__mock__/health" in output
    assert "demo_app_token / demo_access_token" in output
    for token in ("demo_account_credit_balance", "demo_account_zero_balance"):
        assert token in output
    assert f"{root}/v1" in output and "ak-test-demo-secret" in output
    for resource in ("TEST-MPdemo", "ACdemobuyer", "WDdemo1254 (1254)"):
        assert resource in output
    assert "Traceback" not in output


def test_seed_file_and_custom_credentials(start_mock, tmp_path):
    seed = tmp_path / "fixtures.yaml"
    seed.write_text(
        "marqeta:\n  accounts:\n    - token: seeded_account\n      current_balance: -75.25\n"
    )
    process, root = start_mock("--no-demo", "--seed", str(seed), "--auth", "team:s3cr:et")
    account = httpx.get(f"{root}/v3/accounts/seeded_account", auth=("team", "s3cr:et"))
    assert account.json()["current_balance"] == -75.25
    assert httpx.get(f"{root}/v3/accounts", auth=DEMO_AUTH).status_code == 401
    listed = httpx.get(f"{root}/v3/accounts", auth=("team", "s3cr:et")).json()
    assert [a["token"] for a in listed["data"]] == ["seeded_account"]
    output = stop(process)
    assert "s3cr:et" not in output  # a configured password is never logged


def test_invalid_seed_file_stops_start_up_with_a_clear_message(tmp_path):
    seed = tmp_path / "bad.yaml"
    seed.write_text("marqeta:\n  accounts:\n    - current_balance: lots\n")
    result = run_cli("--seed", str(seed))
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr and "current_balance" in result.stderr


def test_malformed_auth_option_is_refused():
    result = run_cli("--auth", "no-colon")
    assert result.returncode == 2
    assert "USER:PASS" in result.stderr


def test_balanced_key_and_balanced_fixtures(start_mock, tmp_path):
    seed = tmp_path / "fixtures.json"
    seed.write_text(
        '{"balanced": {"marketplaces": [{"id": "MPx", "name": "Shop", "accounts": '
        '[{"id": "ACx", "debits": [{"id": "WDx", "amount": 999}]}]}]}}'
    )
    process, root = start_mock("--no-demo", "--seed", str(seed), "--balanced-key", "ak-live-xyz")
    debit = httpx.get(f"{root}/v1/marketplaces/MPx/debits/WDx", auth=("ak-live-xyz", ""))
    assert debit.json()["amount"] == 999
    refused = httpx.get(f"{root}/v1/marketplaces", auth=("ak-test-demo-secret", ""))
    assert refused.status_code == 401
    output = stop(process)
    assert "ak-live-xyz" not in output and "WDx (999)" in output


def test_responses_are_checked_against_the_contract_only_when_asked():
    assert config_from(parse_args([])).validate_responses is False
    assert config_from(parse_args(["--validate-responses"])).validate_responses is True


def test_a_bad_lifecycle_or_journal_size_is_refused_before_serving():
    with pytest.raises(ValueError, match="auto:DURATION"):
        config_from(parse_args(["--lifecycle", "auto:soon"]))
    with pytest.raises(ValueError, match="--journal-size"):
        config_from(parse_args(["--journal-size", "-1"]))
    chosen = config_from(parse_args(["--lifecycle", "auto:2s", "--journal-size", "5"]))
    assert (chosen.lifecycle_step.total_seconds(), chosen.journal_size) == (2, 5)


def test_serving_keeps_start_up_objects_out_of_garbage_collection_until_it_stops():
    # A full collection over the contracts, routes and validators stalled whichever request
    # set it off (the bench's p99); they are frozen while the app serves, and released after.
    app = build_app(MockConfig())
    with serve_app(app) as root:
        assert httpx.get(f"{root}/__mock__/health").status_code == 200
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
