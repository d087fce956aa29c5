"""Stage index: ``articles.enriched`` → the ``news-articles`` alias, one bulk request a batch.

Document ids are article ids, so a replay overwrites instead of duplicating; within a
batch the last copy of an id wins, as it would in Kafka. Each document's outcome is its
record's: indexed, busy (tried again), or refused (dead-lettered).

A record is validated as an ``EnrichedArticle`` and then indexed as the bytes it came in:
the enrich stage wrote the document Elasticsearch stores, so encoding it again would only
cost time. In the worker it shares its decode with match-alerts (``enriched.SharedDecoder``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.elastic import BulkOutcome
from streams.errors import RecordRejected, SinkBackpressure
from streams.messages import EnrichedArticle
from streams.worker.dlq import Origin
from streams.worker.enriched import DecodedArticle, decode_enriched
from streams.worker.telemetry import Metrics

Bulk = Callable[[Sequence[tuple[str, Any]]], Awaitable[BulkOutcome]]


@dataclass(frozen=True, slots=True)
class Document:
    article: EnrichedArticle
    source: bytes


@dataclass(frozen=True)
class IndexStage:
    bulk: Bulk
    metrics: Metrics | None = None
    decode_article: Callable[[Origin], DecodedArticle] = decode_enriched
    name: str = "index"
    decode_stage: str = "index"

    def article_id(self, value: Document) -> str | None:
        return value.article.id

    def decode(self, record: Origin) -> Document:
        return Document(self.decode_article(record).article, record.value or b"")

    async def handle(self, values: Sequence[Document]) -> list[Exception | None]:
        latest = {doc.article.id: doc for doc in values}
        started = time.monotonic()
        outcome = await self.bulk([(doc_id, doc.source) for doc_id, doc in latest.items()])
        if self.metrics is not None:
            self._observe(latest, outcome, time.monotonic() - started)
        return [
            None if latest[doc.article.id] is not doc else _outcome_of(doc.article.id, outcome)
            for doc in values
        ]

    def _observe(self, sent: dict[str, Document], outcome: BulkOutcome, seconds: float) -> None:
        assert self.metrics is not None
        self.metrics.bulk_size.observe(len(sent))
        self.metrics.bulk_duration.observe(seconds)
        now = time.time()
        for article_id in outcome.indexed:
            doc = sent.get(article_id)
            article = doc.article if doc else None
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
