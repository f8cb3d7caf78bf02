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


def encode(value: Any) -> bytes:
    """For sending on: orjson's bytes keep their whole working buffer (about 4 KB each), so
    anything kept in memory is ``encode_text``, which is exactly as long as the text."""
    return orjson.dumps(value)


def encode_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def decode(data: bytes | str) -> Any:
    return orjson.loads(data)


class BodyJsonifier:
    """What Connexion asks of its Jsonifier (``dumps`` each answer's body; ``loads``), with
    orjson, the body written as bytes at once.

    Connexion's own Jsonifier would turn orjson's bytes into text, add a newline, and the
    response would encode it back: four copies of the body, a tenth of a 300 KB list page's
    time. The newline is orjson's option here, so bodies stay byte for byte what they were."""

    @staticmethod
    def dumps(data: Any, **_options: Any) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE)

    @staticmethod
    def loads(data: bytes | str) -> Any:
        return json.loads(data)  # what a client sent, or our answer read back to check it


JSONIFIER = BodyJsonifier()
