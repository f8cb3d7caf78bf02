"""``refund-mock`` as a user runs it: options, start-up log and errors, credentials, Ctrl-C."""

from __future__ import annotations

import gc
import json
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from mock_server.app import MockConfig, build_app
from mock_server.command import config_from, parse_args
from tests.support import DEMO_AUTH, free_port, log_of, run_cli, serve_app, stop


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
    result = run_cli_on_a_free_port("--seed", str(seed))
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
    for too_little_or_much in ("0", "0.01", "inf", "nan"):
        with pytest.raises(ValueError, match="--journal-max-mb must be a number of at least"):
            config_from(parse_args(["--journal-max-mb", too_little_or_much]))
    chosen = config_from(parse_args(["--lifecycle", "auto:2s", "--journal-size", "5"]))
    assert chosen.lifecycle_step is not None
    assert (chosen.lifecycle_step.total_seconds(), chosen.journal_size) == (2, 5)


def test_serving_keeps_start_up_objects_out_of_garbage_collection_until_it_stops():
    # A full collection over the contracts, routes and validators stalled whichever request
    # set it off (the bench's p99); they are frozen while the app serves, and released after.
    app = build_app(MockConfig())
    with serve_app(app) as root:
        assert httpx.get(f"{root}/__mock__/health").status_code == 200
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0


# Start-up errors: one line on stderr, exit 2, and no banner -----------------------------


def run_cli_on_a_free_port(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--port", str(free_port()), *args)


def assert_refused_in_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("refund-mock: error: "), result.stderr
    for word in words:
        assert word in lines[0]
    assert "refund contract kit mock" not in result.stdout + result.stderr  # no banner


def test_a_misspelt_host_is_refused_as_unresolvable_not_as_needing_a_token():
    refused = run_cli_on_a_free_port("--host", "localhostt.invalid")
    assert_refused_in_one_line(refused, "'localhostt.invalid'", "not a name or address")
    assert "control-token" not in refused.stderr


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1"])
def test_a_port_outside_1_to_65535_is_refused(port):
    assert_refused_in_one_line(run_cli("--port", port), "--port", "1-65535", port)


def test_a_port_in_use_is_refused():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert_refused_in_one_line(run_cli("--port", port), port, "in use")


def test_a_host_that_does_not_resolve_is_refused():
    assert_refused_in_one_line(
        run_cli_on_a_free_port("--host", "no-such-host.invalid"), "no-such-host.invalid"
    )


def test_an_address_of_another_machine_is_refused():
    assert_refused_in_one_line(
        run_cli_on_a_free_port("--host", "192.0.2.1", "--no-control"), "192.0.2.1", "not an address"
    )


def test_a_sqlite_file_that_cannot_be_opened_is_refused(tmp_path):
    missing_dir = tmp_path / "no" / "such" / "dir" / "x.db"
    assert_refused_in_one_line(
        run_cli_on_a_free_port("--store", f"sqlite:{missing_dir}"), str(missing_dir)
    )
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("these are my notes, not a database\n" * 100)
    assert_refused_in_one_line(
        run_cli_on_a_free_port("--store", f"sqlite:{not_a_database}"),
        str(not_a_database),
        "not a database",
    )


def test_an_empty_seed_file_is_refused(tmp_path):
    empty = tmp_path / "fixtures.yaml"
    empty.write_text("\n# nothing yet\n")
    assert_refused_in_one_line(run_cli_on_a_free_port("--seed", str(empty)), str(empty), "empty")


def test_a_seed_file_that_cannot_be_read_is_refused(tmp_path):
    assert_refused_in_one_line(
        run_cli_on_a_free_port("--seed", str(tmp_path / "missing.yaml")), "missing.yaml"
    )
    assert_refused_in_one_line(
        run_cli_on_a_free_port("--seed", str(tmp_path)), str(tmp_path), "directory"
    )
    binary = tmp_path / "fixtures.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert_refused_in_one_line(run_cli_on_a_free_port("--seed", str(binary)), "fixtures.json")


def alias_bomb(levels: int = 8, width: int = 10) -> str:
    """A few lines of YAML that name width ** levels values once its aliases are expanded."""
    lines = ["a0: &a0 [x]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\nmarqeta: {{accounts: *a{levels}}}\n"


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("bomb.yaml", alias_bomb(), "aliases are expanded"),
        ("deep.yaml", "[" * 20_000 + "]" * 20_000, "levels deep"),
        ("deep.json", "[" * 20_000 + "]" * 20_000, "levels deep"),
        ("twice.yaml", "marqeta:\n  accounts: []\nmarqeta:\n  accounts: []\n", "twice"),
        ("twice.json", '{"marqeta": {}, "marqeta": {}}', "twice"),
    ],
    ids=["alias bomb", "deep yaml", "deep json", "yaml key twice", "json key twice"],
)
def test_start_data_that_would_stall_crash_or_lose_data_is_refused_in_one_line(
    tmp_path, name, text, says
):
    seed = tmp_path / name
    seed.write_text(text)
    assert_refused_in_one_line(run_cli_on_a_free_port("--seed", str(seed)), name, says)


def test_the_banner_names_the_dashboard_the_store_and_the_probes(start_mock, tmp_path):
    process, root = start_mock("--store", f"sqlite:{tmp_path / 'team.db'}")
    said = stop(process)
    assert f"Dashboard: {root}/__mock__/" in said
    assert f"Store: SQLite {tmp_path / 'team.db'} (kept across restarts)" in said
    assert f"Probes: {root}/__mock__/health/live, {root}/__mock__/health/ready" in said


def test_credentials_from_a_file_and_the_environment_stay_out_of_ps(
    start_mock, tmp_path, monkeypatch
):
    auth = tmp_path / "marqeta.auth"
    auth.write_text("# the team's pairs\nteam:f1le-s3cret\n\nci:an0ther:with-colon\n")
    keys = tmp_path / "balanced.keys"
    keys.write_text("ak-file-key\n")
    monkeypatch.setenv("REFUND_MOCK_AUTH", "env-user:env-s3cret")
    process, root = start_mock("--auth-file", str(auth), "--balanced-key-file", str(keys))
    for pair in [("team", "f1le-s3cret"), ("ci", "an0ther:with-colon"), ("env-user", "env-s3cret")]:
        assert httpx.get(f"{root}/v3/accounts", auth=pair).status_code == 200, pair
    assert httpx.get(f"{root}/v3/accounts", auth=DEMO_AUTH).status_code == 401
    assert httpx.get(f"{root}/v1/marketplaces", auth=("ak-file-key", "")).status_code == 200
    command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes()
    assert b"s3cret" not in command_line
    assert "s3cret" not in stop(process)


def test_an_unreadable_credentials_file_is_refused(tmp_path):
    assert_refused_in_one_line(
        run_cli_on_a_free_port("--auth-file", str(tmp_path / "missing")), "missing"
    )


def test_a_postgresql_store_that_cannot_be_used_is_refused_in_one_line():
    with_password = run_cli_on_a_free_port("--store", "postgresql://me:secret@127.0.0.1/db")
    assert_refused_in_one_line(with_password, "must not carry the password", "PGPASSWORD")
    assert "secret" not in with_password.stderr
    assert_refused_in_one_line(
        run_cli_on_a_free_port("--store", "postgresql://me@127.0.0.1:1/db"),
        "cannot open the PostgreSQL store",
    )


def test_start_data_may_use_yaml_anchors_and_merge_keys(tmp_path):
    from mock_server.fixtures import read_fixtures

    seed = tmp_path / "merged.yaml"
    seed.write_text(
        "marqeta:\n  accounts:\n"
        "    - &account {current_balance: -10, credit_limit: 500, token: first}\n"
        "    - <<: *account\n      token: second\n"
    )
    accounts = read_fixtures(seed)["marqeta"]["accounts"]
    assert [(a["token"], a["current_balance"]) for a in accounts] == [
        ("first", -10),
        ("second", -10),
    ]


def _lines_once(process, seen) -> list[str]:
    """The log's lines once ``seen`` holds of them (the access log is written after the answer
    is sent), waiting at most 10 s for it."""
    deadline = time.monotonic() + 10
    while not seen(lines := log_of(process).splitlines()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return lines


def test_refused_credentials_are_no_flood_of_info_lines_and_json_logs_carry_fields(start_mock):
    text_process, text_root = start_mock()
    for _ in range(3):
        assert httpx.get(f"{text_root}/v3/accounts").status_code == 401
    httpx.get(f"{text_root}/v3/accounts", auth=DEMO_AUTH)  # logged after the three 401s
    lines = _lines_once(text_process, lambda lines: any(" 200" in line for line in lines))
    assert not [line for line in lines if "No auth provided" in line]  # Connexion's, per 401
    assert not [line for line in lines if " 401" in line]  # nor the access log's
    assert sum('"GET /v3/accounts HTTP/1.1" 200' in line for line in lines) == 1
    debug_process, debug_root = start_mock("--log-level", "debug")
    assert httpx.get(f"{debug_root}/v3/accounts").status_code == 401
    lines = _lines_once(debug_process, lambda lines: any(" 401" in line for line in lines))
    assert sum('"GET /v3/accounts HTTP/1.1" 401' in line for line in lines) == 1

    json_process, json_root = start_mock("--log-format", "json")
    httpx.get(f"{json_root}/v3/accounts", auth=DEMO_AUTH)
    settled = _lines_once(json_process, lambda lines: any('"status": 200' in x for x in lines))
    records = [json.loads(line) for line in settled]
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert access and access[-1] | {"time": "", "client": ""} == {
        "time": "",
        "level": "info",
        "logger": "uvicorn.access",
        "message": access[-1]["message"],
        "client": "",
        "method": "GET",
        "path": "/v3/accounts",
        "http": "1.1",
        "status": 200,
    }
    assert access[-1]["time"].endswith("Z")

    quiet_process, quiet_root = start_mock("--log-level", "warning")
    httpx.get(f"{quiet_root}/v3/accounts", auth=DEMO_AUTH)
    httpx.get(f"{quiet_root}/v3/nowhere-{free_port()}", auth=DEMO_AUTH)
    # The 404 is answered after the 200: when it is (in the journal), the 200 was logged or not.
    journal = httpx.get(f"{quiet_root}/__mock__/requests").json()["requests"]
    assert len(journal) == 2
    assert not [line for line in log_of(quiet_process).splitlines() if "GET /v3" in line]


def test_at_log_level_error_connexion_warns_no_more_than_the_rest():
    import logging

    from mock_server.command import configure_logging

    root = logging.getLogger()
    root_level, root_handlers = root.level, list(root.handlers)
    try:
        configure_logging("error", "text")
        assert logging.getLogger("connexion").getEffectiveLevel() == logging.ERROR
        configure_logging("info", "text")
        assert logging.getLogger("connexion").getEffectiveLevel() == logging.WARNING
        configure_logging("debug", "text")
        assert logging.getLogger("connexion").getEffectiveLevel() == logging.DEBUG
    finally:
        root.setLevel(root_level)
        root.handlers[:] = root_handlers
        logging.getLogger("connexion").setLevel(logging.NOTSET)
