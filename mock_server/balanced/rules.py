"""Balanced v1 refund rules. Pure: plain data in, plain data out, DomainError on a breach."""

from __future__ import annotations

import re

from mock_server.domain import DomainError


def refund_within_remainder(
    debit_id: str, amount: int, refunded: int, requested: int | None
) -> int:
    """The amount to refund: at most the debit's un-refunded remainder; all of it when not given."""
    remainder = amount - refunded
    if remainder <= 0:
        raise DomainError("debit_already_refunded", f"Debit {debit_id} has already been refunded.")
    if requested is None:
        return remainder
    if requested > remainder:
        raise DomainError(
            "invalid_amount",
            f"Amount {requested} is more than the {remainder} left to refund on debit {debit_id}.",
        )
    return requested


def fee_reversal(debit_amount: int, debit_fee: int, refunded_before: int, amount: int) -> int:
    """The (negative) fee a refund reverses: proportional, rounded up, counted over all refunds.

    After refunds totalling R the fee reversed so far is ceil(fee x R / amount), so the refunds
    of a debit never reverse more than its fee and a full refund reverses all of it.
    """
    before = _ceil_div(debit_fee * refunded_before, debit_amount)
    after = _ceil_div(debit_fee * (refunded_before + amount), debit_amount)
    return -(after - before)


def debit_fee(amount: int, basis_points: int) -> int:
    """The fee Balanced keeps on a debit, rounded down."""
    return amount * basis_points // 10_000


def statement_text(marketplace_name: str, limit: int) -> str:
    """Default ``appears_on_statement_as``: ``PND*`` and the marketplace name in capitals."""
    return ("PND*" + re.sub(r"[^A-Z0-9]", "", marketplace_name.upper()))[:limit]


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)
