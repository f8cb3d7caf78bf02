"""Marqeta Credit refund rules. Pure: plain data in, plain data out, DomainError on a breach."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from mock_server.domain import DomainError
from mock_server.marqeta.errors import MarqetaControlKind, MarqetaKind


@dataclass(frozen=True)
class Lifecycle:
    """A status machine, read from the contract's ``x-mock-lifecycle``."""

    initial: str
    transitions: Mapping[str, tuple[str, ...]]
    returns_amount: frozenset[str]
    forward: tuple[str, ...] = ()  # the path a refund takes when nothing goes wrong

    @classmethod
    def from_contract(cls, extension: Mapping[str, Any]) -> Lifecycle:
        return cls(
            initial=extension["initial"],
            transitions={s: tuple(t) for s, t in extension["transitions"].items()},
            returns_amount=frozenset(extension["returns_amount"]),
            forward=tuple(extension.get("forward", ())),
        )


def has_next_step(lifecycle: Lifecycle, current: str) -> bool:
    """Whether a refund in ``current`` can move one step along the forward path."""
    return current in lifecycle.forward[:-1]


def steps_to(lifecycle: Lifecycle, current: str, target: str | None) -> list[str]:
    """The statuses a refund moves through to reach ``target`` by allowed transitions (fewest
    steps), or one step along the forward path when no target is named."""
    if target is None:
        if not has_next_step(lifecycle, current):
            raise DomainError(
                MarqetaControlKind.NO_NEXT_STATUS,
                f"A refund in {current} has no next status on the forward path"
                f" ({' -> '.join(lifecycle.forward)}); name the status to move to",
            )
        return [lifecycle.forward[lifecycle.forward.index(current) + 1]]
    came_from: dict[str, str] = {current: current}  # breadth-first: the first way found is shortest
    frontier = [current]
    while frontier and target not in came_from:
        reached = []
        for status in frontier:
            for step in lifecycle.transitions.get(status, ()):
                if step not in came_from:
                    came_from[step] = status
                    reached.append(step)
        frontier = reached
    if target == current or target not in came_from:
        raise DomainError(
            MarqetaKind.TRANSITION_NOT_ALLOWED,
            f"No allowed transitions lead from {current} to {target}",
        )
    path = [target]
    while came_from[path[-1]] != current:
        path.append(came_from[path[-1]])
    return path[::-1]


def refund_within_credit_balance(balance: Decimal, amount: Decimal | None) -> Decimal:
    """The amount to refund: at most the credit balance (-balance); all of it when not given."""
    if balance >= 0:
        raise DomainError(
            MarqetaKind.BALANCE_NOT_NEGATIVE,
            f"Account balance is {balance:.2f}: a refund needs a negative (credit) balance",
        )
    credit_balance = -balance
    if amount is None:
        return credit_balance
    if amount > credit_balance:
        raise DomainError(
            MarqetaKind.AMOUNT_EXCEEDS_CREDIT_BALANCE,
            f"Refund amount {amount:.2f} exceeds the credit balance of {credit_balance:.2f}",
        )
    return amount


def allowed_transition(lifecycle: Lifecycle, current: str, target: str) -> None:
    """Refuse any move the lifecycle does not list, naming the moves it does."""
    allowed = lifecycle.transitions.get(current, ())
    if target in allowed:
        return
    if allowed:
        options = "allowed: " + ", ".join(allowed)
    else:
        options = f"{current} is final, no transition is allowed"
    raise DomainError(
        MarqetaKind.TRANSITION_NOT_ALLOWED,
        f"Cannot transition refund from {current} to {target} ({options})",
    )


def amount_within_precision(amount: Decimal, fraction_digits: int, field: str) -> None:
    """Refuse money with more fraction digits than the contract allows (no silent rounding)."""
    # normalize() drops trailing zeros (1.500 -> 1.5), so only real digits count.
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > fraction_digits:
        raise DomainError(
            MarqetaKind.AMOUNT_TOO_PRECISE,
            f"{field} {amount} has more than {fraction_digits} fraction digits",
        )


def date_range(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise DomainError(
            MarqetaKind.INVALID_DATE_RANGE,
            f"start_date {start.isoformat()} is after end_date {end.isoformat()}",
        )


def creation_bounds(start: date | None, end: date | None) -> tuple[str | None, str | None]:
    """Refunds created on the UTC dates [start, end], as bounds on stored ISO 8601 UTC times.

    ``low <= created_at < high`` in text order: ``2026-03-02`` sorts before every time of that
    day, and the day after ``end`` after every time of ``end``.
    """
    low = start.isoformat() if start is not None else None
    high = (end + timedelta(days=1)).isoformat() if end is not None and end < date.max else None
    return low, high
