"""Asking an ASGI app inside the proxy (the judge, the mock of ``--fallback``) what it answers to a
request, in an exchange of its own: what that app notes of the exchange (its routing, a refusal,
a connection fault) stays off the proxy's."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Scope

from mock_server.exchange import Exchange, exchange


@dataclass
class Answered:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


async def ask(app: ASGIApp, scope: Scope, body: bytes) -> tuple[Answered, Exchange]:
    """``app``'s answer to the request ``scope`` with ``body`` (neither is changed), and its
    exchange."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return pending.pop() if pending else {"type": "http.disconnect"}

    answered = Answered(500, [], b"")  # an app that never answers

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answered.status = message["status"]
            answered.headers = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in message.get("headers", [])
            ]
        elif message["type"] == "http.response.body":
            answered.body += message.get("body", b"")

    copied = {**scope, "extensions": {}}  # the app's own routing, not the caller's scope
    with exchange(copied) as asked:
        await app(copied, receive, send)
    return answered, asked
