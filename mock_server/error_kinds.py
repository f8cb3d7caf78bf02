"""Error kinds: closed sets, one per source, each an entry every error table it can reach must
have (checked at start-up: a kind missing from a table stops start-up, never a 500 while
serving). ``error_formats`` writes each vendor's body for a kind from its contract's table."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """The base of every set of kinds (a ``DomainError`` carries one)."""


class Common(ErrorKind):
    """What the mock itself refuses in every API: each API's error table has these."""

    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED = "unauthorized"
    ROUTE_NOT_FOUND = "route_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INTERNAL_ERROR = "internal_error"
    STORE_UNAVAILABLE = "store_unavailable"


class ControlKind(ErrorKind):
    """The control API's own refusals."""

    SESSION_NOT_FOUND = "session_not_found"
    DUPLICATE_TOKEN = "duplicate_token"  # a fixtures file names a record that exists
    OPERATION_NOT_FOUND = "operation_not_found"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    NO_PROXY_HERE = "no_proxy_here"  # the proxy's report, asked of the mock
