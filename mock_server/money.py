"""Exact money at the JSON boundary: JSON numbers in, Decimal inside, JSON numbers out."""

from __future__ import annotations

from decimal import Decimal


def decimal_from_json(value: int | float) -> Decimal:
    """The decimal a JSON number was written as.

    Request bodies are parsed by a strict parser (``mock_server.validation``) that refuses any
    number a float cannot hold exactly as written, so the shortest float repr is that text.
    """
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def json_number(amount: Decimal) -> int | float:
    """A JSON number for an amount: integral amounts as integers (``500``), others as decimals."""
    if amount == amount.to_integral_value():
        return int(amount)
    return float(amount)
