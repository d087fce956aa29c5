"""Stage enrich: ``articles.raw`` → ``articles.enriched``.

Enrichment (CPU-bound, no I/O) runs in a thread so heartbeats and the other stages keep
running; the duplicate look-up against the shared fingerprint store follows, here, one
article after another so copies within one batch find each other. An article whose
look-up or publication must be tried again keeps its enrichment until then: waiting out
an Elasticsearch outage costs no CPU.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

from streams.clock import utc_now
from streams.enrich import Enriched, Fingerprint
from streams.errors import EnrichmentError, NewsstreamError
from streams.messages import (
    DEFAULT_MAX_ARTICLE_BYTES,
    EnrichedArticle,
    RawArticle,
    dumps,
    parse_raw_article,
)
from streams.retry import transient_wait
from streams.worker.dlq import Origin
from streams.worker.produce import Output, Producer, publish


@dataclass(frozen=True, slots=True)
class Received:
    """A raw article and when its record reached Kafka."""

    raw: RawArticle
    received_at: str | None


def iso_time(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BatchEnricher(Protocol):
    def enrich_batch(
        self, raws: Sequence[RawArticle], *, ingested_at: str
    ) -> Sequence[Enriched | EnrichmentError]: ...


class FingerprintLookup(Protocol):
    async def first_seen(self, article_id: str, fp: Fingerprint) -> str | None: ...


@dataclass(frozen=True)
class EnrichStage:
    enricher: BatchEnricher
    fingerprints: FingerprintLookup
    producer: Producer
    output_topic: str
    executor: Executor
    name: str = "enrich"
    decode_stage: str = "parse"
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES  # the gate's size limit (the setting)
    # Enriched articles whose records wait for a retry (at most a batch of them).
    retained: dict[RawArticle, Enriched] = field(default_factory=dict)

    def article_id(self, value: Received) -> str | None:
        return value.raw.id

    def decode(self, record: Origin) -> Received:
        article = parse_raw_article(record.value or b"", max_bytes=self.max_article_bytes)
        return Received(article, iso_time(record.timestamp))

    async def handle(self, values: Sequence[Received]) -> list[Exception | None]:
        results = await self._enriched([value.raw for value in values])
        articles = [
            await self._deduplicated(result, value.received_at)
            for result, value in zip(results, values, strict=True)
        ]
        sent = await publish(self.producer, [self._outputs(a) for a in articles])
        outcomes = [
            a if isinstance(a, Exception) else s for a, s in zip(articles, sent, strict=True)
        ]
        for value, result, outcome in zip(values, results, outcomes, strict=True):
            if isinstance(result, Enriched) and transient_wait(outcome) is not None:
                self.retained[value.raw] = result
        return outcomes

    async def _enriched(self, values: Sequence[RawArticle]) -> list[Enriched | EnrichmentError]:
        kept = {raw: self.retained.pop(raw) for raw in values if raw in self.retained}
        todo = [raw for raw in values if raw not in kept]
        fresh: Sequence[Enriched | EnrichmentError] = []
        if todo:
            enrich = partial(self.enricher.enrich_batch, todo, ingested_at=utc_now())
            fresh = await asyncio.get_running_loop().run_in_executor(self.executor, enrich)
        by_raw: dict[RawArticle, Enriched | EnrichmentError] = {
            **dict(zip(todo, fresh, strict=True)),
            **kept,
        }
        return [by_raw[raw] for raw in values]

    async def _deduplicated(
        self, result: Enriched | EnrichmentError, received_at: str | None
    ) -> EnrichedArticle | NewsstreamError:
        if isinstance(result, EnrichmentError):
            return result
        try:
            original = await self.fingerprints.first_seen(result.article.id, result.fingerprint)
        except NewsstreamError as exc:  # busy store (retry) or an id it refuses (DLQ)
            return exc
        return replace(result.duplicate_of(original), received_at=received_at)

    def _outputs(self, article: EnrichedArticle | Exception) -> list[Output]:
        if isinstance(article, Exception):
            return []
        return [Output(self.output_topic, article.id.encode(), dumps(article))]
