"""The Faust app: where an article goes next.

    articles.raw ─enrich_articles─▶ articles.enriched ─index_articles─▶ ES alias news-articles
                                          │
                                          └─match_alerts─▶ alerts ─deliver_alerts─▶ webhooks
                                                                          └─▶ ES index news-alerts
    a record that cannot be processed ─▶ articles.dlq / alerts.dlq (reason, origin, bytes)

Delivery guarantees:
1. Agents read with acks off (``noack_take`` / ``noack``) and ack a record only after it
   was handled; Faust commits only acked offsets. (``take_events`` would ack in a
   ``finally``: after a failure, or when the worker stops in the middle of a retry.)
2. The enrich agent awaits the broker's acknowledgement of every output record before
   its batch is acked; the sink awaits Elasticsearch's bulk response.
3. A bad record is dead-lettered inside the step; anything else (Kafka or Elasticsearch
   trouble, a bug) is retried in place with backoff and never escapes an agent, which
   would make Faust restart it past the failing offsets.
4. Document ids are article ids and alert ids are (rule, story): replays overwrite or
   are dropped, never duplicated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import faust
import httpx
from elasticsearch import AsyncElasticsearch
from faust.types import EventT

from streams.alerts.dispatcher import AlertDispatcher, RulesHolder, alerts_for
from streams.clock import utc_now
from streams.elastic.bulk import bulk_index
from streams.elastic.client import make_async_client, make_client
from streams.elastic.fingerprints import ElasticsearchDuplicateIndex
from streams.enrich import Enricher
from streams.errors import EnrichmentError, NewsstreamError, SinkBackpressure
from streams.messages import codec
from streams.messages.models import EnrichedArticle, RawArticle
from streams.settings import Settings
from streams.worker.dlq import DlqLimit, DlqLimitExceeded, dead_letter

log = logging.getLogger(__name__)

Event = EventT[bytes]

_MAX_SINK_BACKOFF = 30.0


@dataclass
class Pipeline:
    """The resources the agents share, built once per worker."""

    settings: Settings
    enricher: Enricher
    es: AsyncElasticsearch
    http: httpx.AsyncClient
    rules: RulesHolder
    dlq_limit: DlqLimit
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="enrich")
    )


def create_app(
    settings: Settings,
    *,
    enricher: Enricher | None = None,
    http: httpx.AsyncClient | None = None,
) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        datadir=str(settings.worker_data_dir),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        web_port=settings.worker_web_port,
        web_host="0.0.0.0",
    )
    pipeline = Pipeline(
        settings=settings,
        enricher=enricher
        or Enricher.from_settings(
            settings,
            duplicates=ElasticsearchDuplicateIndex(
                make_client(settings), index=settings.fingerprints_index
            ),
        ),
        es=make_async_client(settings),
        http=http or httpx.AsyncClient(timeout=settings.webhook_timeout),
        rules=RulesHolder.load(settings),
        dlq_limit=DlqLimit(max_ratio=settings.dlq_max_ratio, window=settings.dlq_window),
    )
    app.pipeline = pipeline  # type: ignore[attr-defined]

    def topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, internal=False)

    raw_topic = topic(settings.topic_raw)
    enriched_topic = topic(settings.topic_enriched)
    alerts_topic = topic(settings.topic_alerts)
    dlq_topic = topic(settings.topic_dlq)
    alerts_dlq_topic = topic(settings.topic_alerts_dlq)
    dispatcher = AlertDispatcher(
        es=pipeline.es,
        http=pipeline.http,
        settings=settings,
        rules=pipeline.rules,
    )

    async def send_dead_letter(
        target: faust.TopicT, event: Event, error: BaseException, stage: str
    ) -> Any:
        message = event.message
        letter = dead_letter(
            error=error,
            stage=stage,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            original=message.value,
            failed_at=utc_now(),
        )
        log.warning(
            "dead-lettered %s[%d]@%d at %s: %s",
            message.topic,
            message.partition,
            message.offset,
            stage,
            letter.reason,
        )
        return await target.send(key=message.key, value=codec.dumps(letter))

    async def count(*, failed: bool) -> None:
        try:
            pipeline.dlq_limit.record(failed=failed)
        except DlqLimitExceeded as exc:
            log.critical("%s", exc)
            await app.crash(exc)

    async def until_done(what: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` until it succeeds: a batch is acked only after it was handled.

        Bad records never get here (they are dead-lettered inside ``step``); what does is
        Kafka or Elasticsearch trouble, or a bug, and retrying in place loses nothing.
        """
        delay = 0.5
        while True:
            try:
                await step()
                return
            except SinkBackpressure as exc:
                log.warning("%s waiting %.1fs: %s", what, delay, exc)
                await asyncio.sleep(max(delay, exc.retry_after))
            except Exception:  # anything else: log, wait, retry; never skip the offsets
                log.exception("%s failed; retrying in %.1fs", what, delay)
                await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_SINK_BACKOFF)

    async def ack_all(stream: faust.StreamT[bytes], events: Sequence[Event]) -> None:
        for event in events:
            await stream.ack(event)

    @app.agent(raw_topic, name="enrich-articles")
    async def enrich_articles(stream: faust.StreamT[bytes]) -> None:
        # noack_take: Faust's take_events acks in a ``finally``, even when the body
        # failed or the worker is stopping mid-retry; here acks follow success only.
        async for events in concrete(stream).noack_take(
            settings.enrich_batch_size, within=settings.enrich_batch_seconds
        ):
            batch = as_events(events)

            async def step(batch: Sequence[Event] = batch) -> None:
                await asyncio.gather(*await enrich_batch(batch))  # the broker has them all

            await until_done("enrichment", step)
            await ack_all(stream, batch)

    async def enrich_batch(events: Sequence[Event]) -> list[Any]:
        pending: list[Any] = []
        parsed: list[tuple[Event, RawArticle]] = []
        for event in events:
            try:
                parsed.append((event, codec.parse_raw_article(event.message.value or b"")))
            except NewsstreamError as exc:
                pending.append(await send_dead_letter(dlq_topic, event, exc, "parse"))
                await count(failed=True)
        if not parsed:
            return pending
        try:
            results = await enrich_until_done([raw for _, raw in parsed])
        except Exception as exc:  # a bug must not make Faust skip the batch's offsets
            log.exception("enrichment of a batch failed")
            failure = EnrichmentError(f"enrichment failed for the whole batch: {exc!r}")
            results = [failure] * len(parsed)
        for (event, raw), result in zip(parsed, results, strict=True):
            if isinstance(result, EnrichedArticle):
                pending.append(
                    await enriched_topic.send(key=raw.id.encode(), value=codec.dumps(result))
                )
                await count(failed=False)
            else:
                pending.append(await send_dead_letter(dlq_topic, event, result, "enrich"))
                await count(failed=True)
        return pending

    async def enrich_until_done(raws: list[RawArticle]) -> list[EnrichedArticle | EnrichmentError]:
        """Enrich, waiting out an unreachable duplicate index instead of dead-lettering."""
        delay = 0.5
        while True:
            try:
                return await run_enrichment(pipeline, raws)
            except SinkBackpressure as exc:
                log.warning("enrichment waiting %.1fs: %s", delay, exc)
                await asyncio.sleep(max(delay, exc.retry_after))
                delay = min(delay * 2, _MAX_SINK_BACKOFF)

    @app.agent(enriched_topic, name="index-articles")
    async def index_articles(stream: faust.StreamT[bytes]) -> None:
        async for events in concrete(stream).noack_take(
            settings.sink_batch_size, within=settings.sink_batch_seconds
        ):
            batch = as_events(events)

            async def step(batch: Sequence[Event] = batch) -> None:
                await index_batch(batch)

            await until_done("indexing", step)
            await ack_all(stream, batch)

    async def index_batch(events: Sequence[Event]) -> None:
        docs: list[tuple[str, dict[str, Any]]] = []
        by_id: dict[str, Event] = {}
        pending: list[Any] = []
        for event in events:
            try:
                doc = codec.loads(event.message.value or b"")
                if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
                    raise EnrichmentError("enriched record has no string 'id'")
            except (NewsstreamError, ValueError) as exc:
                pending.append(await send_dead_letter(dlq_topic, event, exc, "index"))
                continue
            docs.append((doc["id"], doc))
            by_id[doc["id"]] = event  # the last copy of an id in a batch wins, as in Kafka
        docs = list({doc_id: (doc_id, doc) for doc_id, doc in docs}.values())
        rejected = await index_until_done(docs)
        for doc_id, reason in rejected.items():
            error = NewsstreamError(f"Elasticsearch rejected the document: {reason}")
            pending.append(await send_dead_letter(dlq_topic, by_id[doc_id], error, "index"))
        await asyncio.gather(*pending)

    async def index_until_done(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
        """Bulk-index, retrying what Elasticsearch could not take yet; return the rejected."""
        rejected: dict[str, str] = {}
        delay = 0.5
        while docs:
            try:
                outcome = await bulk_index(pipeline.es, settings.articles_alias, docs)
            except SinkBackpressure as exc:
                log.warning("sink backing off %.1fs: %s", delay, exc)
                await asyncio.sleep(max(delay, exc.retry_after))
                delay = min(delay * 2, _MAX_SINK_BACKOFF)
                continue
            rejected.update(outcome.rejected)
            docs = [d for d in docs if d[0] in outcome.retryable]
            if docs:
                log.warning("sink retrying %d documents in %.1fs", len(docs), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_SINK_BACKOFF)
        return rejected

    async def each_until_done(
        stream: faust.StreamT[bytes], what: str, handle: Callable[[Event], Awaitable[None]]
    ) -> None:
        """Handle the stream's records one by one, each acked once handled."""
        manual = concrete(stream).noack()
        async for event in manual.events():
            await until_done(what, partial(handle, event))
            await manual.ack(event)

    @app.agent(enriched_topic, name="match-alerts")
    async def match_alerts(stream: faust.StreamT[bytes]) -> None:
        await each_until_done(stream, "alert matching", match_one)

    async def match_one(event: Event) -> None:
        try:
            article = codec.enriched_from_json(event.message.value or b"")
            alerts = alerts_for(pipeline.rules.current, article, now=utc_now())
        except Exception as exc:  # this article (or a rule bug on it): DLQ, not a stall
            if not isinstance(exc, NewsstreamError):
                log.exception("unexpected error matching alert rules")
            await (await send_dead_letter(dlq_topic, event, exc, "match-alerts"))
            return
        pending = [
            await alerts_topic.send(key=alert.alert_id.encode(), value=codec.dumps(alert))
            for alert in alerts
        ]
        await asyncio.gather(*pending)

    @app.agent(alerts_topic, name="deliver-alerts")
    async def deliver_alerts(stream: faust.StreamT[bytes]) -> None:
        await each_until_done(stream, "alert delivery", deliver_one)

    async def deliver_one(event: Event) -> None:
        """Deliver one alert; dead-letter it when its retry budget ran out."""
        try:
            alert = codec.alert_from_json(event.message.value or b"")
        except NewsstreamError as exc:
            await (await send_dead_letter(alerts_dlq_topic, event, exc, "deliver-alerts"))
            return
        failure: Exception | None
        try:
            failure = await dispatcher.dispatch(alert)
        except SinkBackpressure:
            raise  # Elasticsearch is away: until_done waits and tries again
        except Exception as exc:  # this alert cannot be handled: DLQ, not a stall
            if not isinstance(exc, NewsstreamError):
                log.exception("unexpected error delivering an alert")
            failure = exc
        if failure is not None:
            await (await send_dead_letter(alerts_dlq_topic, event, failure, "deliver-alerts"))

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def reload_rules() -> None:
        pipeline.rules.reload_if_changed()

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def send_due_digests() -> None:
        try:
            failures = await dispatcher.flush_due_digests()
            for failure, alerts in failures:
                letter = dead_letter(
                    error=failure,
                    stage="deliver-alerts",
                    topic=settings.topic_alerts,
                    partition=-1,  # a digest gathers alerts from many offsets
                    offset=-1,
                    original=codec.dumps(alerts),
                    failed_at=utc_now(),
                )
                await (await alerts_dlq_topic.send(value=codec.dumps(letter)))
        except Exception:  # a timer that raises stops firing: log, try again next tick
            log.exception("digests not sent yet; trying again in 5 s")

    return app


def concrete(stream: faust.StreamT[bytes]) -> faust.Stream[bytes]:
    # noack_take and noack are on the concrete Stream, not on the StreamT protocol agents receive.
    return cast("faust.Stream[bytes]", stream)


def as_events(items: Sequence[Any]) -> list[Event]:
    """noack_take yields the buffered events themselves (typed as values)."""
    return [cast(Event, item) for item in items]


async def run_enrichment(
    pipeline: Pipeline, raws: list[RawArticle]
) -> list[EnrichedArticle | EnrichmentError]:
    """Enrich a batch off the event loop, so heartbeats and the sink keep running."""
    loop = asyncio.get_running_loop()
    call: Callable[[], list[EnrichedArticle | EnrichmentError]] = lambda: (  # noqa: E731
        pipeline.enricher.enrich_batch(raws, ingested_at=utc_now())
    )
    return await loop.run_in_executor(pipeline.executor, call)
