"""Pure pieces: refund rules, paging, money at the JSON boundary, records, the memory store."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from string import ascii_letters, digits

import pytest

from mock_server.balanced.handlers import timestamp as balanced_timestamp
from mock_server.clock import format_timestamp
from mock_server.domain import DomainError
from mock_server.ids import digit_groups, drawn, prefixed_id
from mock_server.json_codec import JSONIFIER, decode, encode
from mock_server.marqeta.models import Refund
from mock_server.marqeta.rules import (
    Lifecycle,
    allowed_transition,
    amount_within_precision,
    creation_bounds,
    refund_within_credit_balance,
)
from mock_server.money import decimal_from_json, json_number
from mock_server.paging import Page
from mock_server.records import from_record, stored_time, to_record
from mock_server.validation import parse_json_strictly
from tests.support import served

SAFE_INTEGER = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER


def test_refund_within_credit_balance_allows_up_to_zero():
    assert refund_within_credit_balance(Decimal("-4000"), Decimal("4000")) == Decimal("4000")
    assert refund_within_credit_balance(Decimal("-4000"), None) == Decimal("4000")
    with pytest.raises(DomainError) as refused:
        refund_within_credit_balance(Decimal("-4000"), Decimal("4000.01"))
    assert refused.value.kind == "amount_exceeds_credit_balance"


@pytest.mark.parametrize("balance", ["0", "0.01", "830.45"])
def test_refund_within_credit_balance_needs_a_negative_balance(balance):
    with pytest.raises(DomainError) as refused:
        refund_within_credit_balance(Decimal(balance), Decimal("1"))
    assert refused.value.kind == "balance_not_negative"


@pytest.mark.parametrize(
    ("amount", "refused"),
    [("1.005", True), ("1.500", False), ("1E+308", False), ("0.01", False), ("-0.001", True)],
)
def test_amount_within_precision_counts_only_real_fraction_digits(amount, refused):
    if refused:
        with pytest.raises(DomainError) as error:
            amount_within_precision(Decimal(amount), 2, "amount")
        assert error.value.kind == "amount_too_precise"
    else:
        amount_within_precision(Decimal(amount), 2, "amount")


def test_allowed_transition_names_targets_or_finality():
    lifecycle = Lifecycle("A", {"A": ("B", "C"), "B": ()}, frozenset())
    allowed_transition(lifecycle, "A", "C")
    with pytest.raises(DomainError, match="allowed: B, C"):
        allowed_transition(lifecycle, "A", "A")
    with pytest.raises(DomainError, match="B is final"):
        allowed_transition(lifecycle, "B", "A")


def test_a_page_knows_its_end_index_and_whether_more_follow():
    first = Page(items=[5, 4], offset=0, total=5)
    assert (first.end_index, first.is_more) == (1, True)
    last = Page(items=[4, 5], offset=3, total=5)
    assert (last.end_index, last.is_more) == (4, False)
    empty: Page[int] = Page(items=[], offset=9, total=5)
    assert (empty.end_index, empty.is_more) == (9, False)


def test_creation_bounds_hold_every_stored_time_of_the_utc_dates_inclusively():
    low, high = creation_bounds(date(2026, 3, 2), date(2026, 3, 2))
    assert low is not None and high is not None
    for moment in (
        datetime(2026, 3, 2, 0, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=UTC),
    ):
        assert low <= stored_time(moment) < high
    assert stored_time(datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)) < low
    assert stored_time(datetime(2026, 3, 3, tzinfo=UTC)) >= high
    assert creation_bounds(None, date.max) == (None, None)


def test_stored_times_sort_as_text_in_time_order_and_are_utc():
    in_another_zone = datetime(2026, 3, 2, 1, 0, 0, tzinfo=timezone(timedelta(hours=5)))
    moments = [
        datetime(2026, 3, 1, 20, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 20, 0, 0, tzinfo=UTC),
        in_another_zone,  # 20:00 UTC: stored in UTC, so it sorts with the others
        datetime(2026, 3, 1, 19, 59, 59, 999999, tzinfo=UTC),
    ]
    texts = [stored_time(moment) for moment in moments]
    assert sorted(texts) == [stored_time(moment) for moment in sorted(moments)]
    assert all(text.endswith("+00:00") and len(text) == 32 for text in texts)


@pytest.mark.parametrize(
    ("text", "exact"),
    [("0.07", "0.07"), ("12.34", "12.34"), ("500", "500"), ("1e2", "100"), ("4000.01", "4000.01")],
)
def test_json_numbers_become_the_decimal_written(text, exact):
    assert decimal_from_json(parse_json_strictly(text.encode())) == Decimal(exact)


@pytest.mark.parametrize(
    "text", ["NaN", "-Infinity", "1e400", "0.1000000000000000055511151231257827"]
)
def test_strict_parser_refuses_numbers_that_are_not_exact(text):
    with pytest.raises(ValueError):
        parse_json_strictly(text.encode())


def test_json_number_writes_integral_amounts_as_integers():
    assert json_number(Decimal("500.00")) == 500 and isinstance(json_number(Decimal("500")), int)
    assert json_number(Decimal("0.07")) == 0.07


def test_records_round_trip_money_and_time_exactly():
    refund = Refund(
        token="t",
        account_token="a",
        status="INITIATED",
        method="ACH",
        type="PAYMENT_REFUND",
        payment_source_token=None,
        amount=Decimal("0.10"),
        currency_code="USD",
        description=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 1, 0, 0, 1, 5, tzinfo=UTC),
    )
    assert from_record(Refund, to_record(refund)) == refund
    assert to_record(refund)["amount"] == "0.10"


def test_the_largest_integer_the_contracts_allow_round_trips_as_an_integer():
    page = {"start_index": SAFE_INTEGER, "data": [{"amount": -SAFE_INTEGER}]}
    for written in (encode(page), encode(page).decode(), JSONIFIER.dumps(page)):
        read = decode(written)
        assert read == page
        assert isinstance(read["start_index"], int) and isinstance(read["data"][0]["amount"], int)
    assert JSONIFIER.loads(JSONIFIER.dumps(page)) == page


@pytest.mark.parametrize(
    "filename", ["marqeta-credit.yaml", "balanced-v1.yaml", "mock-control.yaml"]
)
def test_every_integer_in_the_contracts_is_bounded_for_javascript_clients(filename):
    """A JavaScript client holds integers exactly up to 2^53-1: every integer schema says so."""
    unbounded = [
        path
        for path, node in _schemas(served(filename))
        if node.get("type") == "integer"
        and "enum" not in node
        and not (isinstance(node.get("maximum"), int) and node["maximum"] <= SAFE_INTEGER)
    ]
    assert unbounded == []


def _schemas(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _schemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas(value, f"{path}/{index}")


@pytest.mark.parametrize(
    ("moment", "marqeta", "balanced"),
    [
        (
            datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2))),
            "2026-01-02T01:04:05Z",
            "2026-01-02T01:04:05.678901Z",
        ),
        # Whole seconds still carry Balanced's six digits; early years keep four digits.
        (datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC), "0999-12-31T23:59:59Z", None),
        (datetime(2012, 11, 7, 0, 43, 58, tzinfo=UTC), None, "2012-11-07T00:43:58.000000Z"),
    ],
)
def test_response_timestamps_are_utc_in_each_vendors_spelling(moment, marqeta, balanced):
    if marqeta is not None:
        assert format_timestamp(moment) == marqeta
    if balanced is not None:
        assert balanced_timestamp(moment) == balanced


def test_generated_ids_draw_every_character_alike_from_one_draw_of_bytes():
    # 62 letters and digits: bytes 248-255 would favour the first 8, so they are dropped.
    draws = iter([bytes([0, 61, 62, 247, 248, 255, 123, 1, 2, 3, 4, 5, 6, 7, 8]), bytes(range(9))])
    assert drawn(ascii_letters + digits, 8, lambda _n: next(draws)) == "a9a99bcd"
    short = iter([bytes([250, 251, 255, 249]), bytes([19, 2, 3])])  # too few usable: drawn again
    assert drawn(digits, 3, lambda _n: next(short)) == "992"
    assert re.fullmatch(r"RF[A-Za-z0-9]{22}", prefixed_id("RF"))
    assert re.fullmatch(r"RF\d{3}-\d{3}-\d{4}", digit_groups("RF", 3, 3, 4))
    assert len({prefixed_id("AC") for _ in range(1000)}) == 1000
