"""`refund-conformance verify-traffic FILE`: traffic a browser recorded (HAR) checked against the
contract offline, with a run's report, JUnit and exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import traffic
from conformance.command import main
from mock_server.app import MockConfig
from tests.support import (
    DEMO_AUTH,
    chromium_browser,
    defective_target,
    har_of,
    serve,
    serve_app,
    with_mock,
)

ACCOUNT = "/v3/accounts/demo_account_credit_balance"
# What the page's script does: the refund screen's calls, with the app's credentials.
CALLS = """async ([root, auth]) => {
  const headers = {"Authorization": "Basic " + btoa(auth), "Content-Type": "application/json"};
  const refund = {method: "ACH", type: "CREDIT_BALANCE_REFUND", amount: 5};
  const made = await fetch(root + "/v3/accounts/demo_account_credit_balance/refunds",
                           {method: "POST", headers, body: JSON.stringify(refund)});
  await made.text();
  for (const path of ["/v3/accounts", "/v3/accounts/demo_account_credit_balance/refunds/r1",
                      "/v3/accounts/demo_account_credit_balance/refunds"]) {
    await (await fetch(root + path, {headers})).text();
  }
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as launched:
        yield launched


def har_of_the_page(browser: Any, proxy: str, har: Path) -> None:
    """Headless Chromium's HAR of a page (the proxy's dashboard) calling the proxied API."""
    context = browser.new_context(record_har_path=str(har), record_har_content="embed")
    page = context.new_page()
    page.goto(f"{proxy}/__mock__/")
    page.evaluate(CALLS, [proxy, ":".join(DEMO_AUTH)])
    context.close()  # writes the HAR


def verify(har: Path, *extra: str) -> int:
    return main(["verify-traffic", str(har), "--api", "marqeta", *extra])


def test_a_browsers_har_of_a_conforming_target_conforms_offline(browser, tmp_path, capsys):
    har, junit = tmp_path / "session.har", tmp_path / "traffic.xml"
    with serve(MockConfig()) as mock, with_mock(f"{mock.root}/v3") as proxy:
        har_of_the_page(browser, proxy, har)
    assert verify(har, "--junit-xml", str(junit)) == 0  # the mock and the proxy are gone
    said = capsys.readouterr().out
    assert "PASS  POST /accounts/{account_token}/refunds" in said
    assert "PASS  GET /accounts/{account_token}/refunds/{refund_token}" in said  # a 404
    assert "CONFORMS" in said and "4 exchanges of the API checked" in said
    cases = ElementTree.parse(junit).getroot().iter("testcase")
    assert {case.get("name") for case in cases} >= {
        "GET /accounts",
        "POST /accounts/{account_token}/refunds",
    }


def test_a_browsers_har_of_a_target_breaking_the_contract_says_how_under_the_runs_names(
    browser, tmp_path, capsys
):
    har, junit = tmp_path / "session.har", tmp_path / "traffic.xml"
    with serve_app(defective_target()) as target, with_mock(f"{target}/v3") as proxy:
        har_of_the_page(browser, proxy, har)
    assert verify(har, "--junit-xml", str(junit)) == 1
    said = capsys.readouterr().out
    assert "FAIL  POST /accounts/{account_token}/refunds" in said
    assert "Response violates schema" in said and "DOES NOT CONFORM" in said
    assert "Basic " not in said and DEMO_AUTH[1] not in said  # the reproduce line is redacted
    failures = [f.get("type", "") for f in ElementTree.parse(junit).getroot().iter("failure")]
    assert "Response violates schema" in " ".join(failures)


def test_what_cannot_be_verified_is_refused_or_inconclusive_saying_why(tmp_path, capsys):
    journal = tmp_path / "journal.json"
    journal.write_text(json.dumps({"requests": [], "matched": 0}))
    assert verify(journal) == 2
    assert "keeps no headers" in capsys.readouterr().err
    nothing = tmp_path / "other.har"
    other: dict[str, Any] = {"request": {"method": "GET", "url": "http://x/app.js", "headers": []}}
    other["response"] = {"status": 200, "headers": [], "content": {"text": "1"}}
    nothing.write_text(json.dumps({"log": {"entries": [other]}}))
    assert verify(nothing) == 3
    said = capsys.readouterr().out
    assert "0 exchanges of the API checked, 1 others left out" in said
    assert "holds no exchange of an operation of the API under the contract" in said
    assert "--allow-skips" not in said  # an option of run, not of verify-traffic
    (tmp_path / "not.har").write_text("[]")
    assert verify(tmp_path / "not.har") == 2


def test_a_check_failing_for_a_reason_not_the_contracts_is_an_error_not_a_finding(
    tmp_path, capsys, monkeypatch
):
    """What the target sent says nothing then: exit 2 with one line, never a traceback or a
    verdict on the target."""
    har = tmp_path / "session.har"
    answer = httpx.Response(
        200,
        json={"data": "not a page"},
        request=httpx.Request("GET", "http://sandbox.test/v3/accounts"),
    )
    answer.elapsed = timedelta(milliseconds=3)  # as a read answer has it
    har.write_text(json.dumps(har_of([answer])))
    monkeypatch.setattr(traffic, "contract_violations", lambda *args: None)  # no contract's
    assert verify(har) == 2
    said = capsys.readouterr()
    assert "could not be checked (a bug of refund-conformance" in said.err
    assert "GET http://sandbox.test/v3/accounts" in said.err and said.out == ""
