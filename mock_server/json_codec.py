"""JSON in and out of the stores and the responses, with orjson (several times faster than the
standard library at both; profiled, JSON was about 12 % of a create and more of a list page).

Request bodies are still parsed by ``validation.parse_json_strictly``, which refuses NaN and
Infinity and keeps numbers exact; orjson reads only what the mock wrote. Every integer the
contracts allow is at most 2^53-1 (their ``maximum``), well within orjson's 64 bits.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from connexion.jsonifier import Jsonifier


def encode(value: Any) -> bytes:
    """For sending on: orjson's bytes keep their whole working buffer (about 4 KB each), so
    anything kept in memory is ``encode_text``, which is exactly as long as the text."""
    return orjson.dumps(value)


def encode_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def decode(data: bytes | str) -> Any:
    return orjson.loads(data)


class _Orjson:
    """The two functions Connexion's Jsonifier asks of a json module."""

    @staticmethod
    def dumps(value: Any, **_options: Any) -> str:  # Connexion passes its encoder class; unneeded
        return encode_text(value)

    @staticmethod
    def loads(data: bytes | str) -> Any:
        return json.loads(data)  # what a client sent, or our answer read back to check it


JSONIFIER = Jsonifier(_Orjson)
