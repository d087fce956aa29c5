"""The Faust app: where an article goes next.

    articles.raw ─enrich─▶ articles.enriched ─┬─index─▶ ES alias news-articles
                                               └─match-alerts─▶ alerts ─deliver-alerts─▶ webhooks
                                                                          └─▶ ES index news-alerts
    a record that cannot be processed ─▶ articles.dlq / alerts.dlq (stage, reason, origin)

Each stage is a module of its own (enrich.py, index.py, match_alerts.py,
deliver_alerts.py) run by the one ``Runner`` (runner.py): decode, handle, retry what is
transient, dead-letter the rest, ack after success (agents.py). Index and match-alerts
are one agent: each batch of enriched records goes to both at once, decoded once
(enriched.py), with up to ``NEWSSTREAM_SINK_BATCHES_IN_FLIGHT`` batches in hand.
Guarantees:

1. A batch is acked only once each record is done or dead-lettered: enrich and
   match-alerts await the broker's acknowledgement of their output, index awaits the
   bulk response, and dead letters are on the broker before the ack.
2. Kafka or Elasticsearch trouble is waited out with one backoff policy; a bad record
   (or a bug on it) is dead-lettered with its reason; neither stalls the records after it.
3. Document ids are article ids and alert ids are (rule, story): replays overwrite or
   are dropped, never duplicated.
"""

from __future__ import annotations

import gc
import importlib.metadata
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import faust
import httpx
from elasticsearch import AsyncElasticsearch

from streams.alerts import AlertDispatcher, RulesHolder
from streams.elastic import FingerprintStore, bulk_index, make_async_client
from streams.enrich import Enricher
from streams.kafka import KafkaConnection
from streams.messages import kafka_record_bytes, parse_raw_article
from streams.retry import stoppable_sleep
from streams.settings import Settings
from streams.worker.agents import FaustProducer, Shutdown, add_agent
from streams.worker.deliver_alerts import DeliverAlertsStage, send_due_digests
from streams.worker.dlq import DeadLetters, DlqLimit
from streams.worker.enrich import EnrichStage
from streams.worker.enriched import SharedDecoder
from streams.worker.index import IndexStage
from streams.worker.match_alerts import MatchAlertsStage
from streams.worker.runner import Runner, Stage
from streams.worker.telemetry import Health, Metrics
from streams.worker.web import add_pages, add_probes

TIMER_SECONDS = 5.0
HEARTBEAT_SECONDS = 1.0
log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    environ: Mapping[str, str],
    enricher: Enricher | None = None,
    http: httpx.AsyncClient | None = None,
    shutdown: Shutdown | None = None,
) -> faust.App:
    """The worker's Faust app; ``environ`` fills the rules file's ``${VAR}`` references.

    ``shutdown`` is how the worker tells the agents it stops (agents.BoundedStopWorker).
    """
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=KafkaConnection.from_settings(settings).faust_credentials(),
        datadir=str(settings.worker_data_dir),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_acks=-1,
        producer_max_request_size=kafka_record_bytes(settings.max_article_bytes),
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=settings.kafka_fetch_bytes,
        stream_buffer_maxsize=settings.stream_buffer_records,
        # Faust pauses a partition when its agent holds 80 % of the buffer, but hands over
        # the whole of a poll first, and waits once the buffer is full: a poll of a big
        # fetch filled the enrich agent's buffer and held up the enriched topic for
        # minutes. A poll of an eighth of the buffer always fits in the last 20 %.
        broker_max_poll_records=max(1, settings.stream_buffer_records // 8),
        # A worker that dies is noticed after the session timeout: only then do the others
        # take its partitions, and a restarted worker waits for it too. (A worker that
        # stops cleanly leaves the group at once.) The others learn of a rebalance with
        # their next heartbeat: every second (well under a third of the session timeout).
        broker_session_timeout=settings.kafka_session_timeout,
        broker_heartbeat_interval=HEARTBEAT_SECONDS,
        # Faust would wait for every record read to be acked before it stops or gives up
        # partitions in a rebalance: forever for a batch waiting out an Elasticsearch
        # outage. Agents end their batches themselves (agents.Shutdown); a record not acked
        # is simply read again, by this worker or the one that takes its partition.
        stream_wait_empty=False,
        web_port=settings.worker_web_port,
        web_host="0.0.0.0",
        # Without set-up rights the worker must not try to create a topic: set-up made them.
        topic_allow_declare=settings.worker_setup,
        # Faust lets its own variables (STREAM_BUFFER_MAXSIZE, ...) override what is passed
        # here: the worker is configured by NEWSSTREAM_ settings alone.
        env={},
    )
    es = make_async_client(settings)
    rules = RulesHolder.load(settings, environ=environ)
    own_http = http is None
    http = http or httpx.AsyncClient(timeout=settings.webhook_timeout)

    async def close_clients(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # After the consumer stopped: a session left open is logged as an error at exit.
        await es.close()
        if own_http:
            await http.aclose()

    app.on_before_shutdown.connect(close_clients)
    metrics = Metrics()
    metrics.build.info({"version": version()})
    health = Health(stuck_after=settings.stage_stuck_seconds)
    dispatcher = AlertDispatcher(es=es, http=http, settings=settings, rules=rules)
    dispatcher.on_status = lambda status: metrics.alerts.labels(status.value).inc()
    shutdown = shutdown or Shutdown()
    edges = Edges(FaustProducer(app), es, rules, dispatcher, metrics, health, shutdown)
    add_stages(app, settings, edges, enricher or Enricher.from_settings(settings))
    add_timers(app, settings, edges)
    add_pages(app, settings, es, metrics, health)
    add_probes(app, settings, es, health)
    return app


@dataclass(frozen=True)
class Edges:
    """What the stages share: the producer, Elasticsearch, the rules, the dispatcher,
    where they report (metrics, health) and how they learn that the worker stops."""

    producer: FaustProducer
    es: AsyncElasticsearch
    rules: RulesHolder
    dispatcher: AlertDispatcher
    metrics: Metrics
    health: Health
    shutdown: Shutdown

    def runner(self, stage: Stage[Any], *, dead_letter_topic: str, limit: DlqLimit) -> Runner[Any]:
        return Runner(
            stage,
            dead_letters=DeadLetters(self.producer),
            dead_letter_topic=dead_letter_topic,
            limit=limit,
            telemetry=self.metrics.stage(stage.name, self.health),
            # A stopping worker does not sit out a backoff of up to 30 s.
            sleep=stoppable_sleep(self.shutdown.requested),
        )


# Enriched once at start: the first batch through spaCy and the cleaners pays for lazy
# set-up (~1.7 s here), which a restarted worker should not add to its recovery.
WARM_UP_ARTICLE = {
    "url": "https://newsstream.invalid/warm-up",
    "title": "Warm-up",
    "text": "The European Union imposed new sanctions on steel exports, officials in Brussels "
    "said on Monday.",
}


def warm_enricher(settings: Settings) -> Enricher:
    """The enricher, loaded and run once (nothing is published or stored)."""
    enricher = Enricher.from_settings(settings)
    enricher.enrich_batch([parse_raw_article(WARM_UP_ARTICLE)], ingested_at="1970-01-01T00:00:00Z")
    return enricher


def freeze_loaded_objects() -> None:
    """Keep what is loaded by now (models, word lists, sanctions lists) out of the
    garbage collector's passes.

    Every full pass walked all of them, for nothing: they live as long as the worker. With
    them frozen the sink used about 30 % less CPU per record (README "Quality and speed").
    """
    gc.collect()
    gc.freeze()


def version() -> str:
    try:
        return importlib.metadata.version("newsstream")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown"


def add_stages(app: faust.App, settings: Settings, edges: Edges, enricher: Enricher) -> None:
    limit = DlqLimit(max_ratio=settings.dlq_max_ratio, window=settings.dlq_window)
    runner = partial(edges.runner, limit=limit)
    topic = edges.producer.topic
    enrich = EnrichStage(
        enricher=enricher,
        fingerprints=FingerprintStore(edges.es, index=settings.fingerprints_index),
        producer=edges.producer,
        output_topic=settings.topic_enriched,
        executor=ThreadPoolExecutor(1, thread_name_prefix="enrich"),
        max_article_bytes=settings.max_article_bytes,
    )
    # Both read every record of a batch: the first decodes it, the other takes the result.
    decode_article = SharedDecoder(
        readers=2, capacity=2 * settings.sink_batch_size * settings.sink_batches_in_flight
    )
    index = IndexStage(
        bulk=partial(bulk_index, edges.es, settings.articles_alias),
        metrics=edges.metrics,
        decode_article=decode_article,
    )
    match = MatchAlertsStage(
        edges.rules,
        edges.producer,
        output_topic=settings.topic_alerts,
        decode_article=decode_article,
    )
    deliver = DeliverAlertsStage(edges.dispatcher)
    add_agent(
        app,
        topic(settings.topic_raw),
        name="enrich-articles",
        runners=[runner(enrich, dead_letter_topic=settings.topic_dlq)],
        batch_size=settings.enrich_batch_size,
        within=settings.enrich_batch_seconds,
        shutdown=edges.shutdown,
    )
    add_agent(
        app,
        topic(settings.topic_enriched),
        name="index-and-match-articles",
        runners=[
            runner(index, dead_letter_topic=settings.topic_dlq),
            runner(match, dead_letter_topic=settings.topic_dlq),
        ],
        batch_size=settings.sink_batch_size,
        within=settings.sink_batch_seconds,
        shutdown=edges.shutdown,
        in_flight=settings.sink_batches_in_flight,
    )
    add_agent(
        app,
        topic(settings.topic_alerts),
        name="deliver-alerts",
        runners=[runner(deliver, dead_letter_topic=settings.topic_alerts_dlq)],
        batch_size=1,
        within=TIMER_SECONDS,
        shutdown=edges.shutdown,
    )


def add_timers(app: faust.App, settings: Settings, edges: Edges) -> None:
    dead_letters = DeadLetters(edges.producer)

    @app.timer(interval=TIMER_SECONDS)  # type: ignore[untyped-decorator]
    async def reload_rules() -> None:
        edges.rules.reload_if_changed()

    @app.timer(interval=TIMER_SECONDS)  # type: ignore[untyped-decorator]
    async def send_digests() -> None:
        try:
            await send_due_digests(
                edges.dispatcher,
                dead_letters,
                alerts_topic=settings.topic_alerts,
                dlq_topic=settings.topic_alerts_dlq,
            )
        except Exception:  # a timer that raises crashes the worker: log, try again next tick
            log.exception("digests not sent yet; trying again in %.0f s", TIMER_SECONDS)
