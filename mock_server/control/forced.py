"""Answers a developer forces instead of the mock's own: only ones the contract documents.

A request's ``Prefer`` header (Prism's spelling: ``Prefer: code=409``, ``Prefer: example=NAME``;
``Prefer: fault=reset`` for a connection fault) or a configured fault picks the answer. An error
status is answered in the vendor's error shape (through ``DomainError``, like any refusal); a
success status with the example the contract gives for it. What the contract does not document
for the operation is refused, so every forced answer is one a client could really get.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio.to_thread

from mock_server.connection_faults import ANSWERING_NOTHING, CONNECTION_FAULTS, ConnectionFaulted
from mock_server.domain import DocumentedError, DomainError
from mock_server.error_formats import ErrorFormat
from mock_server.error_kinds import Common
from mock_server.exchange import current as current_exchange
from mock_server.faults import Draw, Faults
from mock_server.json_types import Json
from mock_server.spec import Contract, resolved

Sleep = Callable[[float], Awaitable[None]]  # how a fault waits (asyncio.sleep)
FORCED = "Forced by the mock"
NO_FAULT = Draw()


@dataclass(frozen=True)
class Preference:
    code: int | None = None
    example: str | None = None
    fault: str | None = None  # a connection fault (mock_server.connection_faults)

    @property
    def forces(self) -> bool:
        return self.code is not None or self.example is not None


def parse_prefer(header: str | None) -> Preference:
    """``code=409, example=refused`` (RFC 7240 preferences; unknown ones are ignored)."""
    if not header:
        return Preference()
    found: dict[str, str] = {}
    for part in header.replace(";", ",").split(","):
        name, _, value = part.strip().partition("=")
        found[name.strip().lower()] = value.strip().strip('"')
    code = found.get("code")
    if code is not None and not (code.isascii() and code.isdigit() and len(code) == 3):
        raise DomainError(Common.INVALID_REQUEST, f"Prefer: code={code} is not an HTTP status code")
    fault = found.get("fault")
    if fault is not None and fault not in CONNECTION_FAULTS:
        raise DomainError(
            Common.INVALID_REQUEST,
            f"Prefer: fault={fault} is no connection fault the mock has"
            f" ({', '.join(sorted(CONNECTION_FAULTS))})",
        )
    return Preference(
        code=int(code) if code else None, example=found.get("example") or None, fault=fault
    )


class OperationAnswers:
    """The responses the contract documents for one operation."""

    def __init__(self, contract: Contract, operation_id: str, operation: Json) -> None:
        self.operation_id = operation_id
        self.responses: dict[str, Json] = {
            code: resolved(contract, response)
            for code, response in operation.get("responses", {}).items()
        }

    def documents(self, status: int) -> bool:
        """Listed by code, or (for an error) covered by ``default``."""
        return str(status) in self.responses or (status >= 400 and "default" in self.responses)

    def statuses(self) -> str:
        return ", ".join(self.responses)

    def example(self, status: int) -> Json | None:
        media = _json_media(self.responses.get(str(status), {}))
        if "example" in media:
            example: Json = media["example"]
            return example
        examples = media.get("examples") or {}
        return next((e["value"] for e in examples.values() if "value" in e), None)

    def named_example(self, name: str) -> tuple[Json, int] | None:
        for code, response in self.responses.items():
            example = (_json_media(response).get("examples") or {}).get(name)
            if code.isdigit() and example is not None and "value" in example:
                return example["value"], int(code)
        return None

    def example_names(self) -> list[str]:
        return [
            name
            for response in self.responses.values()
            for name in (_json_media(response).get("examples") or {})
        ]


def _json_media(response: Json) -> Json:
    media: Json = response.get("content", {}).get("application/json", {})
    return media


def forced_answer(
    answers: OperationAnswers, errors: ErrorFormat, preference: Preference, why: str
) -> tuple[Json, int]:
    """The answer ``preference`` asks for; an error status is raised as its ``DocumentedError``."""
    operation = answers.operation_id
    if preference.example is not None:
        named = answers.named_example(preference.example)
        if named is None:
            known = ", ".join(answers.example_names()) or "none"
            raise DomainError(
                Common.INVALID_REQUEST,
                f"{why}: {operation} documents no example {preference.example!r} (named: {known})",
            )
        return named
    status = preference.code
    assert status is not None
    if not answers.documents(status):
        raise DomainError(
            Common.INVALID_REQUEST,
            f"{why}: {operation} does not document status {status}"
            f" (documented: {answers.statuses()})",
        )
    if status < 400:
        example = answers.example(status)
        if example is None:
            raise DomainError(
                Common.INVALID_REQUEST,
                f"{why}: {operation} documents no example for status {status}",
            )
        return example, status
    raise forced_error(answers, errors, status, f"{FORCED} ({why})")


def forced_error(
    answers: OperationAnswers, errors: ErrorFormat, status: int, message: str
) -> DomainError | DocumentedError:
    """The vendor's error for ``status``: of the kind the contract's example for it shows."""
    kind = errors.kind_for(status, answers.example(status))
    if kind is None:
        return DomainError(
            Common.INVALID_REQUEST,
            f"The vendor's error table has no status {status} to answer with",
        )
    return DocumentedError(kind, message)


def suffer(connection: str) -> None:
    """Have this exchange's answer suffer the connection fault ``connection`` (done by the app's
    outermost layer); one that answers nothing ends the call here, before any rule runs."""
    started = current_exchange()
    if started is None:
        raise DomainError(
            Common.INVALID_REQUEST,
            "Connection faults need the mock's own server (refund-mock, the pytest fixture)",
        )
    started.connection_fault = connection
    if connection in ANSWERING_NOTHING:
        raise ConnectionFaulted(connection)


class Forcing:
    """The answers forced on one vendor API: its faults first, then the request's ``Prefer``."""

    def __init__(
        self,
        api: str,
        answers: dict[str, OperationAnswers],
        errors: ErrorFormat,
        faults: Faults,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.api = api
        self.answers = answers
        self.errors = errors
        self.faults = faults
        self.sleep = sleep  # injected: tests check the delay asked for, not the time taken

    async def answer(
        self, operation_id: str, prefer: str | None, session: str | None = None
    ) -> tuple[Json, int] | None:
        """The forced answer for this call, or None to let the mock answer."""
        if self.faults.none_set(self.api, operation_id, session):
            draw = NO_FAULT
        elif self.faults.blocking:  # a database read: off the event loop
            draw = await anyio.to_thread.run_sync(self.faults.draw, self.api, operation_id, session)
        else:
            draw = self.faults.draw(self.api, operation_id, session)
        if draw.delay_seconds:
            await self.sleep(draw.delay_seconds)
        preference = parse_prefer(prefer)
        connection = draw.connection or preference.fault
        if connection is not None:
            suffer(connection)
        if draw.status is not None:
            raise forced_error(
                self.answers[operation_id],
                self.errors,
                draw.status,
                f"{FORCED} (a fault set on {operation_id})",
            )
        if not preference.forces:
            return None
        return forced_answer(
            self.answers[operation_id], self.errors, preference, f"Prefer: {prefer}"
        )
