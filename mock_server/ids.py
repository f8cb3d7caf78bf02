"""Identifiers the mock generates when a client does not supply one."""

from __future__ import annotations

import secrets
import string
import uuid

_ALPHANUMERIC = string.ascii_letters + string.digits


def uuid_token() -> str:
    """A 36-character UUID, as Marqeta generates tokens."""
    return str(uuid.uuid4())


def prefixed_id(prefix: str, length: int = 22) -> str:
    """``prefix`` and random letters and digits, as Balanced spells ids (``RF26Uvu26OZb...``)."""
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def digit_groups(prefix: str, *sizes: int) -> str:
    """``prefix`` and dash-separated random digit groups (``RF211-525-6531``)."""
    return prefix + "-".join(
        "".join(secrets.choice(string.digits) for _ in range(n)) for n in sizes
    )
