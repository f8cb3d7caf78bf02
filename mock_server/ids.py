"""Identifiers the mock generates when a client does not supply one."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable

_ALPHANUMERIC = string.ascii_letters + string.digits


def uuid_token() -> str:
    """A 36-character UUID, as Marqeta generates tokens."""
    return str(uuid.uuid4())


def prefixed_id(prefix: str, length: int = 22) -> str:
    """``prefix`` and random letters and digits, as Balanced spells ids (``RF26Uvu26OZb...``)."""
    return prefix + drawn(_ALPHANUMERIC, length)


def digit_groups(prefix: str, *sizes: int) -> str:
    """``prefix`` and dash-separated random digit groups (``RF211-525-6531``)."""
    return prefix + "-".join(drawn(string.digits, n) for n in sizes)


def drawn(
    alphabet: str, length: int, random_bytes: Callable[[int], bytes] = secrets.token_bytes
) -> str:
    """``length`` characters of ``alphabet``, each as likely as any other, from one draw of
    random bytes (a draw per character, as ``secrets.choice`` makes, was 5 % of a Balanced
    create). Bytes at or above the largest multiple of the alphabet's size are dropped, so that
    the remainder is not biased towards the alphabet's first characters."""
    size = len(alphabet)
    if not 0 < size <= 256:
        raise ValueError(f"an alphabet of {size} characters cannot be drawn from bytes")
    usable = 256 - 256 % size
    chosen: list[str] = []
    while len(chosen) < length:
        chosen += [alphabet[byte % size] for byte in random_bytes(length + 8) if byte < usable]
    return "".join(chosen[:length])
