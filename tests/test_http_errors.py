"""Every failure answers in the Marqeta error shape: never problem+json, never a 500."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from mock_server.app import MockConfig, build_app
from mock_server.http_clients import tls_context
from mock_server.marqeta.models import REFUND as REFUND_KIND
from mock_server.store.memory import MemoryStore
from tests.support import DEMO_AUTH, JSON, ContractClient, serve, serve_app

URL = "/accounts/demo_account_credit_balance/refunds"
REFUND = '{"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": %s}'


def assert_marqeta_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error_code", "error_message"}
    assert body["error_code"] == code
    assert body["error_message"]


def demo_balance(v3) -> Decimal:
    body = v3.get("/accounts/demo_account_credit_balance").json()
    return Decimal(str(body["current_balance"]))


@pytest.mark.parametrize(
    "auth",
    [None, ("demo_app_token", "wrong"), ("someone", "demo_access_token"), ("", "")],
    ids=["none", "wrong-password", "wrong-user", "empty"],
)
def test_missing_or_wrong_credentials_are_unauthorized(marqeta, auth):
    response = marqeta.request("GET", "/accounts", auth=auth)  # auth=None sends no credentials
    assert_marqeta_error(response, 401, "401001")
    assert response.headers["www-authenticate"].startswith("Basic")


def test_unauthorized_write_changes_nothing(v3):
    before = demo_balance(v3)
    response = v3.http.post(
        URL,
        content=REFUND % 1,
        headers={"content-type": "application/json"},
        auth=("demo_app_token", "nope"),
    )
    assert_marqeta_error(response, 401, "401001")
    assert demo_balance(v3) == before


@pytest.mark.parametrize("header", ["Basic !!!notbase64", "Bearer abc", "Basic"])
def test_malformed_authorization_header_is_unauthorized(v3, header):
    # No client credentials: the header given is the only one sent.
    response = v3.http.get("/accounts", headers={"Authorization": header}, auth=None)
    assert_marqeta_error(response, 401, "401001")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{", "truncated"),
        (REFUND % "NaN", "NaN"),
        (REFUND % "Infinity", "Infinity"),
        (REFUND % "1e999", "overflow"),
        (REFUND % "0.1000000000000000055511151231257827", "more precision than a float"),
        ("[]", "not an object"),
        ('"text"', "a string"),
    ],
)
def test_malformed_json_is_a_bad_request_that_changes_nothing(v3, body, why):
    before = demo_balance(v3)
    response = v3.post(URL, content=body, headers={"content-type": "application/json"})
    assert_marqeta_error(response, 400, "400001")
    assert demo_balance(v3) == before, why


def test_body_that_is_not_utf8_is_a_bad_request(v3):
    body = b'{"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "description": "\xff\xfe"}'
    response = v3.post(URL, content=body, headers={"content-type": "application/json"})
    assert_marqeta_error(response, 400, "400001")
    assert "UTF-8" in response.json()["error_message"]


def test_missing_body_is_a_bad_request(v3):
    response = v3.post(URL, headers={"content-type": "application/json"})
    assert_marqeta_error(response, 400, "400001")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_non_json_body_is_unsupported_media_type(v3, content_type):
    before = demo_balance(v3)
    response = v3.post(URL, content=REFUND % 1, headers={"content-type": content_type})
    assert_marqeta_error(response, 415, "415001")
    assert demo_balance(v3) == before


def test_unknown_query_parameter_is_ignored_as_the_contract_says(v3):
    # x-mock-unknown-query-parameters: ignored (the vendor does not document refusing them)
    assert v3.get(f"{URL}?colour=blue").json() == v3.get(URL).json()


def test_unknown_route_is_not_found_in_vendor_shape(live_mock):
    auth = ("demo_app_token", "demo_access_token")
    for path in ("/v3/nothing/here", "/v3/credit/accounts/x/unknown"):
        response = live_mock.request("GET", path, auth=auth)
        assert_marqeta_error(response, 404, "404000")


def test_wrong_method_is_method_not_allowed_with_allow_header(v3):
    response = v3.http.delete(URL)
    assert_marqeta_error(response, 405, "405001")
    assert response.headers["allow"] == "GET, POST"


def test_no_problem_json_on_any_error(v3):
    responses = [
        v3.http.get("/accounts?count=0"),
        v3.http.post(URL, content="{", headers={"content-type": "application/json"}),
        v3.http.get("/missing"),
        v3.http.get("/accounts", auth=None),
    ]
    assert all("problem" not in r.headers["content-type"] for r in responses)


def test_a_chunked_upload_is_read_whole():
    def chunks():
        yield b'{"method": "ACH", "type": "CREDIT_BALANCE_REFUND",'
        yield b' "amount": 12.5}'

    # Over a socket: the chunked transfer encoding is what is tested.
    with serve(MockConfig()) as mock:
        v3 = ContractClient(f"{mock.root}/v3", "marqeta-credit.yaml")
        # Sent past the checking client (Schemathesis cannot read a streamed request back)...
        response = v3.http.post(
            "/accounts/demo_account_credit_balance/refunds",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.text
        # ...and read back through it.
        token = response.json()["token"]
        refund = v3.get(f"/accounts/demo_account_credit_balance/refunds/{token}")
        v3.close()
    assert refund.json()["amount"] == 12.5


@pytest.mark.parametrize("checked", [True, False], ids=["validate-responses", "default"])
def test_a_response_the_contract_forbids_is_a_500_only_when_responses_are_checked(checked):
    store = MemoryStore()
    app = build_app(MockConfig(validate_responses=checked), store)
    with (
        serve_app(app) as root,
        httpx.Client(verify=tls_context(), base_url=f"{root}/v3", auth=DEMO_AUTH) as client,
    ):
        created = client.post(URL, content=REFUND % 1, headers=JSON)
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        with store.transaction() as tx:  # a mock bug: a status the contract does not allow
            record = tx.get(REFUND_KIND, token)
            assert record is not None
            tx.replace(REFUND_KIND, token, record | {"status": "LOST_IN_TRANSIT"})
        response = client.get(f"{URL}/{token}")
    if checked:
        assert_marqeta_error(response, 500, "500001")
    else:  # unchecked, the mock answers faster and trusts its own rules
        assert (response.status_code, response.json()["status"]) == (200, "LOST_IN_TRANSIT")


@pytest.mark.parametrize("path", ["/nothing", "/v2/refunds", "/favicon.ico", "/v3x/accounts"])
def test_a_path_outside_every_api_is_a_neutral_404_that_names_what_is_served(live_mock, path):
    response = live_mock.request("GET", path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["title"]) == (404, "Not Found")
    for served in ("/v1", "/v3", "/v3/credit", "/__mock__"):
        assert served in problem["detail"]


def test_the_root_lists_the_apis_their_contracts_and_the_dashboard(live_mock):
    index = live_mock.request("GET", "/")
    assert index.status_code == 200
    listed = index.json()
    assert listed["dashboard"] == "/__mock__/"
    assert set(listed["apis"]["marqeta"]["base_paths"]) == {"/v3", "/v3/credit"}
    assert listed["apis"]["balanced"]["base_paths"] == ["/v1"]
    for api in listed["apis"].values():
        assert live_mock.request("GET", api["contract"]).status_code == 200
