"""The records of ``articles.enriched``, decoded once for the two stages that read them.

Index and match-alerts handle each batch of enriched records together (app.py), and
decoding a record (JSON, then the model's checks) was a fifth of the sink's CPU when
each stage paid it. The first stage to reach a record decodes it and leaves the result
for the other, which takes it away.

What is left for a reader that never comes (it dead-lettered the batch for another
reason, or the worker stopped) is dropped oldest first beyond ``capacity`` records: a
reader that finds nothing decodes the record itself. A record counts as the same only if
it is the same bytes object: a record read again after a rebalance or a restart is
decoded again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from streams.messages import EnrichedArticle, enriched_from_json, loads
from streams.worker.dlq import Origin


@dataclass(frozen=True, slots=True)
class DecodedArticle:
    document: dict[str, Any]  # the record's JSON: the document Elasticsearch indexes
    article: EnrichedArticle


def decode_enriched(record: Origin) -> DecodedArticle:
    """InvalidRecord when the value is not JSON, InvalidArticle when it is not an article."""
    document = loads(record.value or b"")
    return DecodedArticle(document, enriched_from_json(document))


@dataclass
class _Left:
    value: bytes | None
    decoded: DecodedArticle
    readers: int


class SharedDecoder:
    """``decode_enriched`` for ``readers`` stages, run once per record."""

    def __init__(self, *, readers: int, capacity: int) -> None:
        if readers < 1 or capacity < 1:
            raise ValueError("a shared decoder needs at least one reader and room for one record")
        self._readers = readers
        self._capacity = capacity
        self._left: OrderedDict[tuple[str, int, int], _Left] = OrderedDict()

    def __len__(self) -> int:
        return len(self._left)

    def __call__(self, record: Origin) -> DecodedArticle:
        where = (record.topic, record.partition, record.offset)
        left = self._left.get(where)
        if left is not None and left.value is record.value:
            left.readers -= 1
            if left.readers == 0:
                del self._left[where]
            return left.decoded
        decoded = decode_enriched(record)  # an error: each reader dead-letters it itself
        if self._readers > 1:
            self._left[where] = _Left(record.value, decoded, self._readers - 1)
            self._left.move_to_end(where)
            while len(self._left) > self._capacity:
                self._left.popitem(last=False)
        return decoded
