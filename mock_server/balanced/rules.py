"""Balanced v1 refund rules. Pure: plain data in, plain data out, DomainError on a breach."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from mock_server.balanced.errors import BalancedControlKind, BalancedKind
from mock_server.domain import DomainError


def refundable_state(debit_id: str, status: str, refundable: str) -> None:
    """Only a debit in the ``refundable`` state (``succeeded``) can be refunded."""
    if status != refundable:
        raise DomainError(
            BalancedKind.REFUND_INVALID_DEBIT_STATE,
            f"Debit {debit_id} is {status}; only a {refundable} debit can be refunded.",
        )


def escrow_after_refund(marketplace_id: str, in_escrow: int, amount: int) -> int:
    """The marketplace's escrow once ``amount`` is refunded out of it, which it must hold."""
    if amount > in_escrow:
        raise DomainError(
            BalancedKind.REFUND_INSUFFICIENT_FUNDS,
            f"Marketplace {marketplace_id} has {in_escrow} in escrow, "
            f"less than the {amount} to refund.",
        )
    return in_escrow - amount


def escrow_after_debit(marketplace_id: str, in_escrow: int, amount: int, limit: int) -> int:
    """The marketplace's escrow once a debit of ``amount`` succeeds: at most ``limit``, the
    largest amount the contract lets a client hold exactly."""
    if in_escrow + amount > limit:
        raise DomainError(
            BalancedKind.INVALID_AMOUNT,
            f"A debit of {amount} would carry the escrow of marketplace {marketplace_id} "
            f"({in_escrow}) past {limit}.",
        )
    return in_escrow + amount


def debit_status_change(
    debit_id: str, status: str, to: str, transitions: Mapping[str, Sequence[str]]
) -> bool:
    """Whether moving the debit from ``status`` to ``to`` changes it (False: it is there
    already); DomainError when ``transitions`` do not allow the move."""
    if to == status:
        return False
    if to not in transitions.get(status, ()):
        allowed = ", ".join(transitions.get(status, ())) or "nothing (it is final)"
        raise DomainError(
            BalancedControlKind.TRANSITION_NOT_ALLOWED,
            f"Debit {debit_id} is {status}; it can become {allowed}, not {to}.",
        )
    return True


def refund_within_remainder(
    debit_id: str, amount: int, refunded: int, requested: int | None
) -> int:
    """The amount to refund: at most the debit's un-refunded remainder; all of it when not given."""
    remainder = amount - refunded
    if remainder <= 0:
        raise DomainError(
            BalancedKind.DEBIT_ALREADY_REFUNDED, f"Debit {debit_id} has already been refunded."
        )
    if requested is None:
        return remainder
    if requested > remainder:
        raise DomainError(
            BalancedKind.INVALID_AMOUNT,
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
