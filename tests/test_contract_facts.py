"""The x-mock-* facts of a contract, read once into typed objects: a contract that states one
wrongly is refused in one line naming it, before anything is served."""

from __future__ import annotations

import pytest

from mock_server.contract_facts import (
    ContractFactError,
    ContractFacts,
    agreed_max_body_bytes,
    error_format_of,
)
from mock_server.error_formats import CategoryErrorFormat, CodedErrorFormat
from mock_server.error_kinds import Common
from mock_server.registry import VENDORS
from mock_server.spec import load_contract

CODED = {"info": {"title": "Coded"}, "x-mock-error-codes": {"invalid_request": "400001"}}
CATEGORIES = {
    "info": {"title": "Categorised"},
    "x-mock-request-id-prefix": "REQ",
    "x-mock-error-categories": {
        "invalid_request": {"status_code": 400, "category_code": "request", "category_type": "x"}
    },
}


def test_each_vendor_contract_states_its_facts():
    for vendor in VENDORS:
        facts = ContractFacts.read(load_contract(vendor.contract_file))
        assert facts.error_format.knows(Common.INVALID_REQUEST)
        assert facts.unknown_query_parameters == "ignored"  # both vendors' documents are silent
        assert facts.max_body_bytes == 1_048_576


def test_the_error_table_decides_the_body_and_reads_answers_back():
    coded, categorised = error_format_of(CODED), error_format_of(CATEGORIES)
    assert isinstance(coded, CodedErrorFormat) and isinstance(categorised, CategoryErrorFormat)
    assert coded.says("invalid_request", coded.body("invalid_request", "bad"))
    assert not coded.says("invalid_request", {"error_code": "400002"})
    body = categorised.body("invalid_request", "bad")
    assert body["status_code"] == 400 and categorised.says("invalid_request", body)
    assert not categorised.says("invalid_request", "not a body")


def test_request_ids_start_as_the_contract_says():
    body = error_format_of(CATEGORIES).body("invalid_request", "bad")
    request_id = str(body["request_id"])
    assert request_id.startswith("REQ") and len(request_id) == 35
    assert body["description"] == f"bad Your request id is {request_id}."


@pytest.mark.parametrize(
    ("contract", "said"),
    [
        ({"info": {"title": "T"}}, "T: states neither or both"),
        ({**CODED, **CATEGORIES}, "states neither or both"),
        ({**CODED, "x-mock-error-codes": {"invalid_request": 400}}, "6-digit strings"),
        (
            {**CATEGORIES, "x-mock-error-categories": {"invalid_request": {"status_code": 400}}},
            "status_code, category_code and category_type",
        ),
        ({**CODED, "x-mock-unknown-query-parameters": "dropped"}, "not refused or ignored"),
        ({**CODED, "x-mock-max-body-bytes": "1 MiB"}, "is not a size"),
        ({**CODED, "x-mock-max-body-bytes": True}, "is not a size"),
        ({**CATEGORIES, "x-mock-request-id-prefix": 7}, "needs x-mock-request-id-prefix"),
        (
            {k: v for k, v in CATEGORIES.items() if k != "x-mock-request-id-prefix"},
            "needs x-mock-request-id-prefix",
        ),
    ],
)
def test_a_fact_stated_wrongly_is_refused_in_one_line(contract, said):
    with pytest.raises(ContractFactError, match=said) as refused:
        ContractFacts.read(contract)
    assert "\n" not in str(refused.value)


def test_the_served_contracts_must_agree_on_the_body_limit():
    one, other = {**CODED, "x-mock-max-body-bytes": 10}, {**CODED, "x-mock-max-body-bytes": 20}
    assert agreed_max_body_bytes([one, one]) == 10
    with pytest.raises(ContractFactError, match="different body limits"):
        agreed_max_body_bytes([one, other])
    with pytest.raises(ContractFactError, match="Coded: states no x-mock-max-body-bytes"):
        agreed_max_body_bytes([one, CODED])


def test_a_body_is_read_as_a_kind_only_if_the_table_has_that_kind():
    coded = error_format_of(CODED)
    assert not coded.says("no_such_kind", {"error_message": "no code at all"})
