"""HTTP Basic credentials the mock accepts, plugged into Connexion's security handling."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connexion.security import BasicSecurityHandler

DEMO_USER = "demo_app_token"
DEMO_PASSWORD = "demo_access_token"
# Balanced: the API key secret is the user name, the password is empty.
DEMO_BALANCED_SECRET = "ak-test-demo-secret"


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

    @classmethod
    def api_key_secrets(cls, secrets: list[str]) -> Credentials:
        """Balanced style: each secret is a user name with an empty password."""
        if any(not secret for secret in secrets):
            raise ValueError("an API key secret cannot be empty")
        return cls(tuple((secret, "") for secret in secrets))

    @property
    def is_demo(self) -> bool:
        return self in (DEMO_CREDENTIALS, DEMO_BALANCED_CREDENTIALS)

    def check(self, username: str, password: str) -> dict[str, Any] | None:
        """Connexion's basic-auth callback: token info for a known pair, None otherwise."""
        matched = False
        for user, secret in self.pairs:
            # Compare every pair in constant time so timing does not reveal which part was wrong.
            matched |= hmac.compare_digest(user, username) & hmac.compare_digest(secret, password)
        return {"sub": username} if matched else None


DEMO_CREDENTIALS = Credentials(((DEMO_USER, DEMO_PASSWORD),))
DEMO_BALANCED_CREDENTIALS = Credentials(((DEMO_BALANCED_SECRET, ""),))


def security_map(credentials: Credentials) -> dict[str, type]:
    """Connexion ``security_map`` whose HTTP Basic handler checks against ``credentials``.

    This keeps Python module paths (``x-basicInfoFunc``) out of the vendor contracts.
    """

    class ConfiguredBasicHandler(BasicSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Callable[..., Any]:
            return credentials.check

        # Connexion inspects the callback's signature on every request (about 7 % of a create,
        # profiled); the answer for our callback never changes.
        _accepts_kwarg = staticmethod(functools.cache(BasicSecurityHandler._accepts_kwarg))

    return {"basic": ConfiguredBasicHandler}
