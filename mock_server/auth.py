"""HTTP Basic credentials the mock accepts, plugged into Connexion's security handling."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connexion.security import BasicSecurityHandler

DEMO_USER = "demo_app_token"
DEMO_PASSWORD = "demo_access_token"


@dataclass(frozen=True)
class Credentials:
    pairs: tuple[tuple[str, str], ...]

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

    @property
    def is_demo(self) -> bool:
        return self.pairs == ((DEMO_USER, DEMO_PASSWORD),)

    def check(self, username: str, password: str) -> dict[str, Any] | None:
        """Connexion's basic-auth callback: token info for a known pair, None otherwise."""
        matched = False
        for user, secret in self.pairs:
            # Compare every pair in constant time so timing does not reveal which part was wrong.
            matched |= hmac.compare_digest(user, username) & hmac.compare_digest(secret, password)
        return {"sub": username} if matched else None


DEMO_CREDENTIALS = Credentials(((DEMO_USER, DEMO_PASSWORD),))


def security_map(credentials: Credentials) -> dict[str, type]:
    """Connexion ``security_map`` whose HTTP Basic handler checks against ``credentials``.

    This keeps Python module paths (``x-basicInfoFunc``) out of the vendor contracts.
    """

    class ConfiguredBasicHandler(BasicSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Callable[..., Any]:
            return credentials.check

    return {"basic": ConfiguredBasicHandler}
