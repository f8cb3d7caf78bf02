"""Each record's answer JSON, written once and kept while the record stays as it was.

A list page is mostly writing its records: decoding each into its model, writing the model as
its schema says, serialising it. A record unchanged since its answer was written has that same
answer, so the text is kept and a page splices it in (``orjson.Fragment``): a page of a hundred
kept refunds costs a hundred lookups and comparisons.

The answer is kept with what it was written from (the record, and the kept text of what it
embeds), and used only while those are equal to what the store now holds. So it never needs
invalidating: a record changed by any path (a service, a seed, an import, another worker or
replica on a shared store) is written anew on its next read, and so is a Balanced refund whose
embedded account or debit now reads differently. Keys need not be unique across sessions either
(every session seeds the same demo tokens): equal records, equal answers.

The cache is bounded (the oldest written goes first), so a 10^5-refund state keeps its memory
budget; a page of records beyond it is written as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from mock_server.json_codec import encode_text
from mock_server.json_types import Json

KEPT = 4096  # answers kept per kind of answer: forty 100-record pages


@dataclass(frozen=True)
class _Kept:
    record: Json  # what the answer was written from
    serialised: str  # the record as orjson writes it (compared when it is another object)
    embedded: tuple[str, ...]
    text: str
    fragment: orjson.Fragment


class KeptAnswers:
    def __init__(self, write: Callable[..., Json], key: str, size: int = KEPT) -> None:
        """``write(record, *embedded)`` is the answer object of a stored record, given the kept
        text of what it embeds: a pure function of them, which is what makes keeping its text
        sound. ``key`` names the record's field that identifies it."""
        self._write = write
        self._key = key
        self._size = size
        self._kept: dict[str, _Kept] = {}
        self._writing = threading.Lock()  # handlers of a blocking store run in worker threads

    def answer(self, record: Json, *embedded: str) -> orjson.Fragment:
        """The answer as JSON text that orjson writes as it is. ``record`` must not be changed
        afterwards: it is what later reads are compared with."""
        return self._kept_for(record, embedded).fragment

    def text(self, record: Json, *embedded: str) -> str:
        """The answer's JSON text (to embed in another answer)."""
        return self._kept_for(record, embedded).text

    def _kept_for(self, record: Json, embedded: tuple[str, ...]) -> _Kept:
        key = record[self._key]
        kept = self._kept.get(key)
        if kept is not None and kept.embedded == embedded and kept.record is record:
            return kept  # the memory store hands out its own records, never changed in place
        # Another object: compared serialised, since equal dicts may order their keys
        # differently, and the answer keeps their order.
        serialised = encode_text(record)
        if kept is not None and kept.embedded == embedded and kept.serialised == serialised:
            return kept
        text = encode_text(self._write(record, *embedded))
        kept = _Kept(record, serialised, embedded, text, orjson.Fragment(text))
        with self._writing:
            self._kept.pop(key, None)  # written anew: last to go
            if len(self._kept) >= self._size:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = kept
        return kept

    def __len__(self) -> int:
        return len(self._kept)
