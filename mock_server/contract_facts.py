"""The ``x-mock-*`` facts every served contract states for the kit, read once into typed
objects: which error body each kind of error gets, what the API does with a query parameter
it does not name, and how large a request body may be. A contract that states one wrongly is
refused with one line naming the file and the extension, not met later as a KeyError.

(Facts of one vendor's rules, such as a lifecycle or a fee, are read by that vendor's
package into its own policy objects.)"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mock_server.error_formats import Category, CategoryErrorFormat, CodedErrorFormat, ErrorFormat
from mock_server.spec import Contract

UnknownQueryParameters = Literal["refused", "ignored"]


class ContractFactError(ValueError):
    """A contract whose ``x-mock-*`` facts the kit cannot read."""


@dataclass(frozen=True)
class ContractFacts:
    error_format: ErrorFormat
    unknown_query_parameters: UnknownQueryParameters
    max_body_bytes: int | None  # None: the contract states none (the control API's)

    @classmethod
    def read(cls, contract: Contract) -> ContractFacts:
        name = _title(contract)
        unknown = contract.get("x-mock-unknown-query-parameters", "refused")
        if unknown not in ("refused", "ignored"):
            raise ContractFactError(
                f"{name}: x-mock-unknown-query-parameters is {unknown!r}, not refused or ignored"
            )
        limit = contract.get("x-mock-max-body-bytes")
        if limit is not None and (type(limit) is not int or limit <= 0):  # bool is an int too
            raise ContractFactError(f"{name}: x-mock-max-body-bytes {limit!r} is not a size")
        return cls(error_format_of(contract, name), unknown, limit)


def agreed_max_body_bytes(contracts: Iterable[Contract]) -> int:
    """The request body limit the contracts state, which must agree: one body validator
    serves them all."""
    limits = set()
    for contract in contracts:
        limit = ContractFacts.read(contract).max_body_bytes
        if limit is None:
            raise ContractFactError(f"{_title(contract)}: states no x-mock-max-body-bytes")
        limits.add(limit)
    if len(limits) != 1:
        raise ContractFactError(f"the vendor contracts state different body limits: {limits}")
    return limits.pop()


def _title(contract: Contract) -> str:
    """How a refusal names the contract."""
    return str(contract.get("info", {}).get("title", "a contract"))


def error_format_of(contract: Contract, name: str = "the contract") -> ErrorFormat:
    """The error body the contract's table describes: ``x-mock-error-codes`` (a code per
    kind, its first three digits the status) or ``x-mock-error-categories`` (with
    ``x-mock-request-id-prefix``)."""
    codes = contract.get("x-mock-error-codes")
    categories = contract.get("x-mock-error-categories")
    if (codes is None) == (categories is None):
        raise ContractFactError(
            f"{name}: states neither or both of x-mock-error-codes and x-mock-error-categories"
        )
    if codes is not None:
        return CodedErrorFormat(_codes(codes, name))
    prefix = contract.get("x-mock-request-id-prefix")
    if not isinstance(prefix, str):
        raise ContractFactError(
            f"{name}: x-mock-error-categories needs x-mock-request-id-prefix, a string (the"
            " start of each error's request_id)"
        )
    return CategoryErrorFormat(_categories(categories, name), request_id_prefix=prefix)


def _codes(table: Any, name: str) -> dict[str, str]:
    if not isinstance(table, Mapping) or not all(
        isinstance(code, str) and len(code) == 6 and code.isdigit() for code in table.values()
    ):
        raise ContractFactError(f"{name}: x-mock-error-codes maps kinds to 6-digit strings")
    return {str(kind): code for kind, code in table.items()}


def _categories(table: Any, name: str) -> dict[str, Category]:
    try:
        return {
            str(kind): Category(
                status_code=int(entry["status_code"]),
                category_code=str(entry["category_code"]),
                category_type=str(entry["category_type"]),
            )
            for kind, entry in table.items()
        }
    except (AttributeError, KeyError, TypeError, ValueError):
        raise ContractFactError(
            f"{name}: each x-mock-error-categories entry has status_code, category_code and"
            " category_type"
        ) from None
