"""JSON in and out of the stores and the responses, with orjson (several times faster than the
standard library at both; profiled, JSON was about 12 % of a create and more of a list page).

Request bodies are still parsed by ``validation.parse_json_strictly``, which refuses NaN and
Infinity and keeps numbers exact; orjson reads only what the mock wrote.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from connexion.jsonifier import Jsonifier


def encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        # orjson stops at 64-bit integers; the contracts allow larger ones (start_index=10^22
        # is echoed back in a page), which the standard library writes.
        return json.dumps(value, separators=(",", ":")).encode()


def encode_text(value: Any) -> str:
    return encode(value).decode()


def decode(data: bytes | str) -> Any:
    return orjson.loads(data)


class _Orjson:
    """The two functions Connexion's Jsonifier asks of a json module."""

    @staticmethod
    def dumps(value: Any, **_options: Any) -> str:  # Connexion passes its encoder class; unneeded
        return encode_text(value)

    @staticmethod
    def loads(data: bytes | str) -> Any:
        return orjson.loads(data)


JSONIFIER = Jsonifier(_Orjson)
