"""Response shapes come from the contract: what a model's JSON holds is read from its schema."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mock_server.balanced.handlers import BalancedShapes
from mock_server.balanced.models import Marketplace
from mock_server.clock import format_timestamp
from mock_server.marqeta.handlers import TIMES, MarqetaShapes
from mock_server.marqeta.models import Refund
from mock_server.spec import load_contract
from mock_server.wire import wire_shape

MARQETA = load_contract("marqeta-credit.yaml")
BALANCED = load_contract("balanced-v1.yaml")
WHEN = datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=UTC)


def _refund(**changes: object) -> Refund:
    fields: dict[str, object] = {
        "token": "r1",
        "account_token": "a1",
        "status": "PENDING",
        "method": "ACH",
        "type": "CREDIT_BALANCE_REFUND",
        "payment_source_token": None,
        "amount": Decimal("12.30"),
        "currency_code": "USD",
        "description": None,
        "created_at": WHEN,
        "updated_at": WHEN,
    }
    return Refund(**(fields | changes))  # type: ignore[arg-type]


def test_a_marqeta_refund_is_written_in_its_schemas_order_and_formats():
    written = MarqetaShapes(MARQETA).refund.write(_refund(description="why"))
    properties = list(MARQETA["components"]["schemas"]["AccountRefundResponse"]["properties"])
    assert list(written) == [name for name in properties if name != "payment_source_token"]
    assert written["amount"] == 12.3 and written["created_time"] == "2026-11-26T01:02:03Z"
    assert written["description"] == "why"


def test_optional_fields_the_model_leaves_empty_are_left_out_not_null():
    written = MarqetaShapes(MARQETA).refund.write(_refund())
    assert "description" not in written and "payment_source_token" not in written


def test_nullable_required_fields_are_sent_as_null():
    marketplace = Marketplace("MP1", "Shop", None, None, {}, WHEN)
    written = BalancedShapes(BALANCED).marketplace.write(marketplace)
    assert written["domain_url"] is None and written["support_email_address"] is None
    assert written["uri"] == "/v1/marketplaces/MP1"
    assert written["accounts_uri"] == "/v1/marketplaces/MP1/accounts"
    assert written["created_at"] == "2026-11-26T01:02:03.456789Z"


def test_a_schema_property_no_model_attribute_supplies_is_an_error_at_start_up():
    @dataclass(frozen=True)
    class Incomplete:
        token: str

    with pytest.raises(LookupError, match="account_token"):
        wire_shape(MARQETA, "AccountRefundResponse", Incomplete, format_timestamp, TIMES)


def test_an_answer_reads_back_into_the_models_fields_exact_and_aware():
    written = json.loads(json.dumps(MarqetaShapes(MARQETA).refund.write(_refund())))
    read = MarqetaShapes(MARQETA).refund.read(written)
    assert read["amount"] == Decimal("12.3") and read["created_at"] == WHEN.replace(microsecond=0)
    assert "description" not in read  # left out of the answer: not read as anything


def test_a_property_the_contract_marks_secret_is_never_read_back():
    contract = copy.deepcopy(MARQETA)
    properties = contract["components"]["schemas"]["AccountRefundResponse"]["properties"]
    properties["description"] = {"type": "string", "format": "password"}
    shape = wire_shape(contract, "AccountRefundResponse", Refund, format_timestamp, TIMES)
    assert "description" not in shape.read(shape.write(_refund(description="hunter2")))
