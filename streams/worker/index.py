"""Stage index: ``articles.enriched`` → the ``news-articles`` alias, one bulk request a batch.

Document ids are article ids, so a replay overwrites instead of duplicating; within a
batch the last copy of an id wins, as it would in Kafka. Each document's outcome is its
record's: indexed, busy (tried again), or refused (dead-lettered).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streams.elastic import BulkOutcome
from streams.errors import RecordRejected, SinkBackpressure
from streams.messages import EnrichedArticle, enriched_from_json

Bulk = Callable[[Sequence[tuple[str, Any]]], Awaitable[BulkOutcome]]


@dataclass(frozen=True)
class IndexStage:
    bulk: Bulk
    name: str = "index"
    decode_stage: str = "index"

    def decode(self, value: bytes) -> EnrichedArticle:
        return enriched_from_json(value)

    async def handle(self, values: Sequence[EnrichedArticle]) -> list[Exception | None]:
        latest = {article.id: article for article in values}
        outcome = await self.bulk(list(latest.items()))
        return [
            None if latest[article.id] is not article else _outcome_of(article.id, outcome)
            for article in values
        ]


def _outcome_of(article_id: str, outcome: BulkOutcome) -> Exception | None:
    if article_id in outcome.retryable:
        return SinkBackpressure(
            f"Elasticsearch could not index it yet: {outcome.retryable[article_id]}"
        )
    if article_id in outcome.rejected:
        return RecordRejected(
            f"Elasticsearch rejected the document: {outcome.rejected[article_id]}"
        )
    return None
