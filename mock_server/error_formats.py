"""The vendors' error bodies: each vendor's contract says which error kinds it has and how each
is written (``x-mock-error-codes`` or ``x-mock-error-categories``, read by
``contract_facts``). Plain data, no HTTP: the domain and the conformance suite may use them as
well as ``errors.ErrorRouter``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, Protocol


class ErrorFormat(Protocol):
    @property
    def media_type(self) -> str:
        """Of its error bodies."""

    def knows(self, kind: str) -> bool:
        """Whether its table has ``kind`` (start-up checks every kind the mock can raise)."""

    def status(self, kind: str) -> int: ...

    def body(self, kind: str, message: str) -> dict[str, object]: ...

    def kind_for(self, status: int, example: dict[str, Any] | None = None) -> str | None:
        """The error kind to answer ``status`` with: the one ``example`` (the contract's example
        for that status) shows, else the first the vendor has for it; None if it has none."""

    def says(self, kind: str, body: object) -> bool:
        """Whether an error body (an implementation's) is written as this format writes
        ``kind``: the suite's checks read answers through it."""


@dataclass(frozen=True)
class CodedErrorFormat:
    """``{"error_code": "400001", "error_message": ...}``, codes from the contract's error table.

    The first three digits of a code are its HTTP status.
    """

    codes: dict[str, str]
    media_type: ClassVar[str] = "application/json"

    def knows(self, kind: str) -> bool:
        return kind in self.codes

    def status(self, kind: str) -> int:
        return int(self._code(kind)[:3])

    def body(self, kind: str, message: str) -> dict[str, object]:
        return {"error_code": self._code(kind), "error_message": message}

    def kind_for(self, status: int, example: dict[str, Any] | None = None) -> str | None:
        kinds = [k for k, code in self.codes.items() if code[:3] == str(status)]
        shown = (example or {}).get("error_code")
        return next((k for k in kinds if self.codes[k] == shown), kinds[0] if kinds else None)

    def says(self, kind: str, body: object) -> bool:
        return (
            kind in self.codes
            and isinstance(body, dict)
            and body.get("error_code") == self.codes[kind]
        )

    def _code(self, kind: str) -> str:
        return self.codes[kind]


@dataclass(frozen=True)
class Category:
    """One kind's entry in ``x-mock-error-categories``."""

    status_code: int
    category_code: str
    category_type: str


@dataclass(frozen=True)
class CategoryErrorFormat:
    """A body naming the error's category: status, status_code, category_code,
    category_type, description, request_id, additional, extras (Balanced v1's shape; the
    request id is the contract's prefix and 32 hex digits)."""

    categories: dict[str, Category]
    request_id_prefix: str
    media_type: ClassVar[str] = "application/json"

    def knows(self, kind: str) -> bool:
        return kind in self.categories

    def status(self, kind: str) -> int:
        return self.categories[kind].status_code

    def body(self, kind: str, message: str) -> dict[str, object]:
        category = self.categories[kind]
        request_id = self.request_id_prefix + uuid.uuid4().hex
        return {
            "status": HTTPStatus(category.status_code).phrase,
            "status_code": category.status_code,
            "category_code": category.category_code,
            "category_type": category.category_type,
            "description": f"{message} Your request id is {request_id}.",
            "request_id": request_id,
            "additional": None,
            "extras": {},
        }

    def kind_for(self, status: int, example: dict[str, Any] | None = None) -> str | None:
        kinds = [k for k, c in self.categories.items() if c.status_code == status]
        shown = (example or {}).get("category_code")
        return next(
            (k for k in kinds if self.categories[k].category_code == shown),
            kinds[0] if kinds else None,
        )

    def says(self, kind: str, body: object) -> bool:
        category = self.categories.get(kind)
        return (
            category is not None
            and isinstance(body, dict)
            and body.get("category_code") == category.category_code
        )


# The statuses of the kinds the mock answers outside every vendor API (and for statuses a
# vendor's table has no kind for, such as a header too large).
PROBLEM_STATUSES = {
    "invalid_request": 400,
    "unauthorized": 401,
    "route_not_found": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "headers_too_large": 431,
    "internal_error": 500,
    "store_unavailable": 503,
}


@dataclass(frozen=True)
class ProblemErrorFormat:
    """RFC 9457 ``application/problem+json``: the neutral shape, for requests no vendor API
    owns (a path outside every API, a request refused before its path was read)."""

    media_type: ClassVar[str] = "application/problem+json"

    def knows(self, kind: str) -> bool:
        return kind in PROBLEM_STATUSES

    def status(self, kind: str) -> int:
        return PROBLEM_STATUSES[kind]

    def body(self, kind: str, message: str) -> dict[str, object]:
        status = self.status(kind)
        return {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": message,
        }

    def kind_for(self, status: int, example: dict[str, Any] | None = None) -> str | None:
        return next((kind for kind, known in PROBLEM_STATUSES.items() if known == status), None)

    def says(self, kind: str, body: object) -> bool:
        return (
            kind in PROBLEM_STATUSES
            and isinstance(body, dict)
            and body.get("status") == PROBLEM_STATUSES[kind]
        )
