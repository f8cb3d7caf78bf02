"""Every error kind Balanced's rules and service raise: the API's are in its contract's
``x-mock-error-categories``, the control API's in the control contract's (checked at
start-up)."""

from __future__ import annotations

from mock_server.error_kinds import ErrorKind


class BalancedKind(ErrorKind):
    MARKETPLACE_NOT_FOUND = "marketplace_not_found"
    ACCOUNT_NOT_FOUND = "account_not_found"
    DEBIT_NOT_FOUND = "debit_not_found"
    REFUND_NOT_FOUND = "refund_not_found"
    REFUND_DEBIT_NOT_FOUND = "refund_debit_not_found"
    NO_DEBIT_TO_REFUND = "no_debit_to_refund"
    DEBIT_ALREADY_REFUNDED = "debit_already_refunded"
    INVALID_AMOUNT = "invalid_amount"
    REFUND_INSUFFICIENT_FUNDS = "refund_insufficient_funds"
    REFUND_INVALID_DEBIT_STATE = "refund_invalid_debit_state"


class BalancedControlKind(ErrorKind):
    """Raised only through the control API (a debit's status set from outside)."""

    TRANSITION_NOT_ALLOWED = "transition_not_allowed"
