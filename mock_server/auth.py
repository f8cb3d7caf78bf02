"""HTTP Basic credentials the mock accepts (``connexion_adapter`` plugs the check in)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Credentials:
    pairs: tuple[tuple[str, str], ...]
    is_demo: bool = False  # a vendor's published demo pairs (the banner shows them)

    @classmethod
    def parse(cls, specs: list[str]) -> Credentials:
        """From ``USER:PASS`` strings (the password may contain colons)."""
        pairs = []
        for spec in specs:
            user, sep, password = spec.partition(":")
            if not sep or not user:
                raise ValueError(f"expected USER:PASS, got {spec!r}")
            pairs.append((user, password))
        return cls(tuple(pairs))

    @classmethod
    def api_key_secrets(cls, secrets: list[str]) -> Credentials:
        """API-key style: each secret is a user name with an empty password."""
        if any(not secret for secret in secrets):
            raise ValueError("an API key secret cannot be empty")
        return cls(tuple((secret, "") for secret in secrets))

    def check(self, username: str, password: str) -> dict[str, Any] | None:
        """Connexion's basic-auth callback: token info for a known pair, None otherwise.

        Connexion hands over the header's bytes decoded as Latin-1 (one character per byte);
        configured credentials are compared as UTF-8, which is what clients send (RFC 7617).
        Bytes compare for any text: ``compare_digest`` refuses non-ASCII ``str`` outright.
        """
        given_user, given_password = _wire_bytes(username), _wire_bytes(password)
        matched = False
        for user, secret in self.pairs:
            # Compare every pair in constant time so timing does not reveal which part was wrong.
            matched |= hmac.compare_digest(_configured(user), given_user) & hmac.compare_digest(
                _configured(secret), given_password
            )
        return {"sub": username} if matched else None


def _configured(text: str) -> bytes:
    """A configured credential's bytes; undecodable bytes of the command line come back as
    they were given (Python keeps them as surrogate escapes)."""
    return text.encode("utf-8", errors="surrogateescape")


def _wire_bytes(text: str) -> bytes:
    """The bytes a client sent, from Connexion's Latin-1 decoding of them."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # not from the wire: text as a caller typed it
        return text.encode("utf-8", errors="surrogatepass")
