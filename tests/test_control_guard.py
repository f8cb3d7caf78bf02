"""The control API is the developer's: no other web page, and no network peer without the
token, can reset the mock, import state or set faults."""

from __future__ import annotations

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.command import config_from, parse_args
from tests.support import DEMO_AUTH, JSON, serve

EVIL = "https://evil.example"


def accounts_in(root: str) -> int:
    return len(httpx.get(f"{root}/v3/accounts?count=100", auth=DEMO_AUTH).json()["data"])


@pytest.fixture(scope="module")
def mock():
    with serve(MockConfig(control_origins=frozenset({"http://localhost:5173"}))) as live:
        yield live


def test_another_sites_preflight_is_refused_without_cors_headers(mock):
    preflight = httpx.options(
        f"{mock.root}/__mock__/reset",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.json()["error_code"] == "403001"


def test_another_sites_simple_request_changes_nothing(mock):
    before = accounts_in(mock.root)
    # What fetch(url, {method: "POST", mode: "no-cors", body}) from any page sends: no preflight.
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Origin": EVIL} | ({"Content-Type": content_type} if content_type else {})
        planted = httpx.post(
            f"{mock.root}/__mock__/accounts",
            content=b'{"current_balance": -99999999}',
            headers=headers,
        )
        assert planted.status_code == 403, planted.text
    assert httpx.post(f"{mock.root}/__mock__/reset", headers={"Origin": EVIL}).status_code == 403
    assert accounts_in(mock.root) == before


def test_a_page_on_a_rebound_dns_name_is_not_the_mocks_own(mock):
    # evil.example resolving to 127.0.0.1: same origin as far as the browser knows.
    port = mock.root.rsplit(":", 1)[1]
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    assert httpx.post(f"{mock.root}/__mock__/reset", headers=rebound | JSON).status_code == 403


@pytest.mark.parametrize("path", ["/state", "/requests", "/overview", "/sessions", "/faults"])
def test_a_rebound_pages_same_origin_reads_are_refused_without_a_token(mock, path):
    # What fetch() from a page on a rebound name sends for a same-origin GET: no Origin at all.
    port = mock.root.rsplit(":", 1)[1]
    read = httpx.get(f"{mock.root}/__mock__{path}", headers={"Host": f"evil.example:{port}"})
    assert read.status_code == 403, read.text
    assert "evil.example" in read.json()["error_message"]
    assert "records" not in read.text and "requests" not in read.json()


def test_health_and_the_contract_answer_any_host_they_hold_nothing_of_the_state(mock):
    for path in ("/health", "/openapi.json"):
        named = {"Host": "mock.internal:8080"}
        assert httpx.get(f"{mock.root}/__mock__{path}", headers=named).status_code == 200


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST", "localhost:5173"])
def test_loopback_names_and_allowed_origins_hosts_reach_the_control_api(mock, host):
    port = mock.root.rsplit(":", 1)[1]
    named = host if ":" in host.removeprefix("[::1]") else f"{host}:{port}"
    assert httpx.get(f"{mock.root}/__mock__/state", headers={"Host": named}).status_code == 200


def test_an_allowed_origins_host_and_dot_localhost_names_reach_it_others_not():
    with serve(MockConfig(control_origins=frozenset({"http://devbox.internal:5173"}))) as mock:
        state = f"{mock.root}/__mock__/state"
        for host, status in [
            ("devbox.internal:5173", 200),
            ("app.localhost:3000", 200),
            ("devbox.internal.evil.example", 403),
            ("[::1]evil", 403),
        ]:
            assert httpx.get(state, headers={"Host": host}).status_code == status, host


def test_with_a_token_the_host_may_be_any_name():
    with serve(MockConfig(control_token="s3cret")) as mock:
        read = httpx.get(
            f"{mock.root}/__mock__/state",
            headers={"Host": "mock.team.example", "X-Mock-Control-Token": "s3cret"},
        )
        assert read.status_code == 200


def test_the_mocks_own_pages_and_allowed_origins_may_use_it(mock):
    own = {"Origin": mock.root}
    assert httpx.post(f"{mock.root}/__mock__/reset", headers=own | JSON).status_code == 200
    allowed = {"Origin": "http://localhost:5173"}
    preflight = httpx.options(
        f"{mock.root}/__mock__/reset",
        headers=allowed | {"Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "content-type" in preflight.headers["access-control-allow-headers"]
    reset = httpx.post(f"{mock.root}/__mock__/reset", headers=allowed | JSON)
    assert reset.status_code == 200
    assert reset.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_changes_need_a_json_content_type_reads_do_not(mock):
    before = accounts_in(mock.root)
    for method, path in [("POST", "/reset"), ("DELETE", "/faults"), ("DELETE", "/requests")]:
        refused = httpx.request(method, f"{mock.root}/__mock__{path}")
        assert refused.status_code == 415, (method, path)
        assert refused.json()["error_code"] == "415001"
    assert httpx.get(f"{mock.root}/__mock__/state").status_code == 200
    assert accounts_in(mock.root) == before


def test_vendor_apis_stay_open_to_every_origin(mock):
    preflight = httpx.options(
        f"{mock.root}/v3/accounts",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_with_a_token_every_control_request_but_the_page_health_and_contract_needs_it():
    with serve(MockConfig(control_token="s3cret-token")) as mock:
        control = f"{mock.root}/__mock__"
        assert httpx.get(f"{control}/state").status_code == 401
        wrong = {"X-Mock-Control-Token": "guess"}
        assert httpx.post(f"{control}/reset", headers=wrong | JSON).status_code == 401
        right = {"X-Mock-Control-Token": "s3cret-token"}
        assert httpx.get(f"{control}/state", headers=right).status_code == 200
        assert httpx.post(f"{control}/reset", headers=right | JSON).status_code == 200
        for open_path in ("/", "/health", "/openapi.json"):
            assert httpx.get(f"{control}{open_path}").status_code == 200, open_path


def test_listening_beyond_loopback_needs_a_token_or_no_control(monkeypatch):
    monkeypatch.delenv("REFUND_MOCK_CONTROL_TOKEN", raising=False)
    with pytest.raises(ValueError, match="--control-token"):
        config_from(parse_args(["--host", "0.0.0.0"]))
    assert config_from(parse_args(["--host", "0.0.0.0", "--no-control"])).control is False
    assert config_from(parse_args(["--host", "::1"])).control_token is None  # loopback
    # From the environment, so that it is not on the command line for `ps` to show.
    monkeypatch.setenv("REFUND_MOCK_CONTROL_TOKEN", "from-env")
    assert config_from(parse_args(["--host", "0.0.0.0"])).control_token == "from-env"
