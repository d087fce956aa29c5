"""Stage index: ``articles.enriched`` → the ``news-articles`` alias, one bulk request a batch.

Document ids are article ids, so a replay overwrites instead of duplicating; within a
batch the last copy of an id wins, as it would in Kafka. Each document's outcome is its
record's: indexed, busy (tried again), or refused (dead-lettered).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.elastic import BulkOutcome
from streams.errors import RecordRejected, SinkBackpressure
from streams.messages import EnrichedArticle, enriched_from_json
from streams.worker.dlq import Origin
from streams.worker.telemetry import Metrics

Bulk = Callable[[Sequence[tuple[str, Any]]], Awaitable[BulkOutcome]]


@dataclass(frozen=True)
class IndexStage:
    bulk: Bulk
    metrics: Metrics | None = None
    name: str = "index"
    decode_stage: str = "index"

    def article_id(self, value: EnrichedArticle) -> str | None:
        return value.id

    def decode(self, record: Origin) -> EnrichedArticle:
        return enriched_from_json(record.value or b"")

    async def handle(self, values: Sequence[EnrichedArticle]) -> list[Exception | None]:
        latest = {article.id: article for article in values}
        started = time.monotonic()
        outcome = await self.bulk(list(latest.items()))
        if self.metrics is not None:
            self._observe(latest, outcome, time.monotonic() - started)
        return [
            None if latest[article.id] is not article else _outcome_of(article.id, outcome)
            for article in values
        ]

    def _observe(
        self, sent: dict[str, EnrichedArticle], outcome: BulkOutcome, seconds: float
    ) -> None:
        assert self.metrics is not None
        self.metrics.bulk_size.observe(len(sent))
        self.metrics.bulk_duration.observe(seconds)
        now = time.time()
        for article_id in outcome.indexed:
            article = sent.get(article_id)
            # From Kafka's receipt of the raw record; older records only know their enrichment.
            started_at = epoch(article.received_at or article.ingested_at) if article else None
            if started_at is not None:
                self.metrics.ingest_latency.observe(max(0.0, now - started_at))


def epoch(timestamp: str) -> float | None:
    """Seconds since the epoch; None for a timestamp that is not ISO 8601 (not ours)."""
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


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
