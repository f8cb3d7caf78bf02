"""The suite's own checks read what was sent exactly, so odd generated values cannot crash them."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from conformance.checks._case import query_value
from conformance.contracts import _drop_framing_headers


def _sent(url: str) -> tuple[SimpleNamespace, SimpleNamespace]:
    count = SimpleNamespace(name="count", definition={"schema": {"type": "integer", "default": 5}})
    case = SimpleNamespace(operation=SimpleNamespace(query=[count]))
    return case, SimpleNamespace(request=SimpleNamespace(url=url))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("count=7", 7),
        ("count=%C2%B9", "¹"),  # a digit to str.isdigit(), not to int()
        ("count=%D9%A1", "\u0661"),  # an Arabic-Indic one, which int() would take
        ("count=-3", "-3"),
        ("", 5),  # not sent: the contract's default
    ],
)
def test_query_values_are_integers_only_when_written_in_ascii_digits(query, expected):
    case, response = _sent(f"http://127.0.0.1/v3/accounts?{query}")
    assert query_value(case, response, "count") == expected


def test_repeated_and_list_parameters_come_back_as_lists():
    case, response = _sent("http://127.0.0.1/v3/accounts?count=1&count=2")
    assert query_value(case, response, "count") == [1, 2]


def test_a_parameter_the_operation_does_not_document_is_no_filter():
    """`GET /accounts?end_date=...`: sent by a generated request, ignored by the target, so
    no check may hold the answer to it (seen once as a false violation)."""
    case, response = _sent("http://127.0.0.1/v3/accounts?end_date=-128492552&count=2")
    assert query_value(case, response, "end_date") is None
    assert query_value(case, response, "count") == 2


def test_generated_framing_headers_are_left_to_the_http_client():
    case = SimpleNamespace(headers={"Content-Length": "(So", "HOST": "x", "X-Request-Id": "1"})
    _drop_framing_headers(None, case)
    assert case.headers == {"X-Request-Id": "1"}
    bare = SimpleNamespace(headers=None)
    _drop_framing_headers(None, bare)
    assert bare.headers is None


def test_a_findings_baseline_key_holds_no_generated_value():
    """Two runs that show one schema failure with different generated values, and a behaviour
    rule whose assertion names other numbers, give the same keys."""
    from conformance.report import Outcome, Violation, finding_key

    operation = Outcome("operation", "POST /refunds", "failed", name="test_contract[POST /refunds]")
    keys = {
        finding_key(
            operation,
            Violation(
                "Response violates schema",
                f"{value} is less than the minimum of 0\nSchema at /properties/amount/minimum",
                f'201: {{"amount": {value}}}',
                None,
            ),
        )
        for value in (-5, -7)
    }
    assert keys == {
        (
            "Response violates schema",
            "test_contract[POST /refunds]",
            "Schema at /properties/amount/minimum",
        )
    }
    rule = Outcome("behaviour", "Fees are reversed.", "failed", name="test_fee_reversal[balanced]")
    rule_keys = {
        finding_key(rule, Violation("test_fee_reversal", "Fees are reversed.", got, None, True))
        for got in ("reversed 0, share 42.3", "reversed 1, share 7.0")
    }
    assert rule_keys == {("test_fee_reversal", "test_fee_reversal[balanced]", "")}


def _answering(status: int, body: object) -> httpx.Client:
    return httpx.Client(
        base_url="http://sandbox.test/v3",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)),
    )


def test_the_setup_check_judges_only_what_the_target_answers_clearly(tmp_path):
    from conformance.vendors.marqeta import FromFile

    setup = FromFile({"refundable_accounts": ["acct"]}, tmp_path / "setup.yaml")
    assert setup.shortfalls(_answering(401, {"error_code": "401001"})) == []  # unjudged
    assert setup.shortfalls(_answering(200, {"current_balance": -5})) == []
    (empty,) = setup.shortfalls(_answering(200, {"current_balance": 0}))
    assert "acct has current_balance 0" in empty and "refill" in empty
    (missing,) = setup.shortfalls(_answering(404, {}))
    assert "no account acct" in missing


def test_giving_back_never_raises_and_says_what_it_left():
    from conformance.spending import Created
    from conformance.vendors.marqeta import give_back

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    http = httpx.Client(
        base_url="http://sandbox.test/v3", transport=httpx.MockTransport(unreachable)
    )
    lines = give_back(http, [Created("/accounts/acct/refunds", {"token": "r1"})])
    assert lines[0].startswith("gave back 0 of the 1 refunds")
    assert lines[1] == "left behind 1 that cannot be undone: r1 on acct"


@pytest.mark.parametrize(
    ("expiry", "says"),
    [(86400.0, "The mock deletes it after 24 h unused"), (None, "It does not expire")],
)
def test_a_kept_session_is_reported_with_when_the_mock_deletes_it(expiry, says):
    from conformance.options import RunOptions
    from conformance.report import Outcome, Report, Violation

    options = RunOptions("marqeta", "http://127.0.0.1:1/v3", None, None, False, 5, None, None, None)
    found = Violation("status_code_conformance", "a documented status", "418", None)
    report = Report(
        api="marqeta",
        base_url=options.base_url,
        mock_control="http://127.0.0.1:1/__mock__",
        options=options,
        outcomes=[Outcome("operation", "GET /accounts", "failed", violations=[found])],
        mock_session="conformance-abc",
        mock_session_expiry=expiry,
    )
    text = " ".join(" ".join(report.lines()).split())
    assert "kept in the mock's session conformance-abc" in text
    assert says in text
