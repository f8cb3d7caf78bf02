"""One record of the memory store as one ``bytes`` object, a fraction of its JSON's size.

As Python objects, a stored record cost about 1 KB: its text, its key tuple, a row object, a
sort entry, its order string and filter tuple. 10^5 refunds with their journal entries took the
mock past 250 MB. Packed, a record is one object:

    4 bytes   the length of the facts that follow
    facts     JSON ``[sequence, owners id, order value, *filter values]``: what a listing sorts
              and filters on, readable without touching the body (unindexed kinds keep the
              first two only)
    body      the record's JSON, compressed with zstd against a dictionary made from the first
              record of its kind: records of a kind share their field names and most of their
              values, so a 350-byte refund packs into about 100 bytes
"""

from __future__ import annotations

import struct
from typing import Any

import zstandard

from mock_server.json_codec import decode, encode

_FACTS_SIZE = struct.Struct(">I")
# zstd's default. On a refund, levels 1 to 19 all give about 70 bytes; 3 takes about 1 us, 19
# takes 75 us.
_LEVEL = 3


class KindCodec:
    """Packs and unpacks the records of one kind. Not thread-safe: the store calls it under its
    lock."""

    def __init__(self, sample: bytes) -> None:
        dictionary = zstandard.ZstdCompressionDict(sample, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        # No checksum or dictionary id: each frame stays in this process, read by this codec.
        self._compressor = zstandard.ZstdCompressor(
            level=_LEVEL, dict_data=dictionary, write_checksum=False, write_dict_id=False
        )
        self._decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)

    def pack(self, known: list[Any], body: bytes) -> bytes:
        encoded = encode(known)
        return b"".join((_FACTS_SIZE.pack(len(encoded)), encoded, self._compressor.compress(body)))

    def body(self, packed: bytes) -> bytes:
        """The record's JSON."""
        (size,) = _FACTS_SIZE.unpack_from(packed)
        return self._decompressor.decompress(packed[_FACTS_SIZE.size + size :])


def facts(packed: bytes) -> list[Any]:
    """``[sequence, owners id, order value, *filter values]`` (the last two only if indexed)."""
    (size,) = _FACTS_SIZE.unpack_from(packed)
    start = _FACTS_SIZE.size
    value: list[Any] = decode(packed[start : start + size])
    return value
