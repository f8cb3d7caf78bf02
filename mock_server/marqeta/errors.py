"""Every error kind Marqeta's rules and service raise: the API's are in its contract's
``x-mock-error-codes``, the control API's in the control contract's (checked at start-up)."""

from __future__ import annotations

from mock_server.error_kinds import ErrorKind


class MarqetaKind(ErrorKind):
    ACCOUNT_NOT_FOUND = "account_not_found"
    PAYMENT_SOURCE_NOT_FOUND = "payment_source_not_found"
    REFUND_NOT_FOUND = "refund_not_found"
    UNKNOWN_PAYMENT_SOURCE = "unknown_payment_source"
    DUPLICATE_TOKEN = "duplicate_token"
    AMOUNT_TOO_PRECISE = "amount_too_precise"
    AMOUNT_EXCEEDS_CREDIT_BALANCE = "amount_exceeds_credit_balance"
    BALANCE_NOT_NEGATIVE = "balance_not_negative"
    INVALID_DATE_RANGE = "invalid_date_range"
    TRANSITION_NOT_ALLOWED = "transition_not_allowed"


class MarqetaControlKind(ErrorKind):
    """Raised only through the control API (advancing a refund one step)."""

    NO_NEXT_STATUS = "no_next_status"
