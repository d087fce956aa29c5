"""The worker's web port: /, /metrics, /healthz, /readyz, and nothing of Faust's own.

- ``/``: a status page for people (status_page.py).
- ``/metrics``: Prometheus text format (telemetry.py), consumer lag read at scrape time.
- ``/healthz``: liveness. Answering at all proves the event loop runs (the web server
  shares it with the agents); 503 when a stage is stuck past
  ``NEWSSTREAM_STAGE_STUCK_SECONDS``.
- ``/readyz``: 200 only with partitions assigned, Kafka and Elasticsearch answering
  the last probe, and the DLQ limit not tripped; else 503 with the reasons.

Faust's pages (``/router``, ``/table``, its index) would tell the network about tables
and routing: they are not registered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterator
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import AsyncElasticsearch
from faust.web.base import BlueprintManager

from streams import __version__
from streams.kafka import KafkaConnection
from streams.prometheus import METRICS_CONTENT_TYPE, metrics_text
from streams.settings import Settings
from streams.worker.status_page import SAMPLE_SECONDS, STAGES, History, PageData, Sample, render
from streams.worker.telemetry import Health, LagCollector, Metrics

log = logging.getLogger(__name__)

PROBE_SECONDS = 5.0
PROBE_TIMEOUT = 3.0


def add_pages(
    app: faust.App,
    settings: Settings,
    es: AsyncElasticsearch,
    metrics: Metrics,
    health: Health,
) -> None:
    app.web.blueprints = BlueprintManager()  # none of Faust's own pages
    lag = LagCollector(lambda: consumer_lags(app))
    metrics.registry.register(lag)
    history = History()

    @app.timer(interval=SAMPLE_SECONDS)  # type: ignore[untyped-decorator]
    async def sample() -> None:
        history.add(
            Sample(
                at=time.time(),
                done={
                    stage: sample_value(metrics, "newsstream_records_done_total", stage=stage)
                    for stage in STAGES
                },
                lag=sum(records for *_, records in consumer_lags(app)),
            )
        )

    @app.page("/")  # type: ignore[untyped-decorator]
    async def status(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        page = PageData(
            history=history,
            not_ready_because=health.not_ready_because(),
            stuck_stages=health.stuck_stages(),
            dead_letters=dead_letter_counts(metrics),
            alerts=await recent_alerts(es, settings.alerts_index),
            kibana_url=settings.kibana_url,
            version=__version__,
            kibana_data_view=settings.kibana_articles_data_view,
        )
        return web.html(render(page))

    @app.page("/metrics")  # type: ignore[untyped-decorator]
    async def metrics_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        body = metrics_text(metrics.registry)
        return web.bytes(body, headers={"Content-Type": METRICS_CONTENT_TYPE})

    @app.page("/healthz")  # type: ignore[untyped-decorator]
    async def healthz(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        stuck = health.stuck_stages()
        answer = {"live": not stuck, "stuck_stages": stuck}
        return web.json(answer, status=503 if stuck else 200)

    @app.page("/readyz")  # type: ignore[untyped-decorator]
    async def readyz(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        reasons = health.not_ready_because()
        answer = {"ready": not reasons, "reasons": reasons}
        return web.json(answer, status=503 if reasons else 200)


def add_probes(app: faust.App, settings: Settings, es: AsyncElasticsearch, health: Health) -> None:
    admin: dict[str, AIOKafkaAdminClient] = {}

    async def kafka_answers() -> bool:
        if "client" not in admin:
            client = AIOKafkaAdminClient(**KafkaConnection.from_settings(settings).aiokafka())
            await client.start()
            admin["client"] = client
        await admin["client"].describe_cluster()
        return True

    async def elasticsearch_answers() -> bool:
        # Not ping (GET /): minimal distributions do not serve it; every node serves health.
        await es.options(request_timeout=PROBE_TIMEOUT).cluster.health()
        return True

    @app.timer(interval=PROBE_SECONDS)  # type: ignore[untyped-decorator]
    async def probe() -> None:
        health.kafka_reachable = await answers(kafka_answers(), "Kafka")
        health.elasticsearch_reachable = await answers(elasticsearch_answers(), "Elasticsearch")
        health.partitions_assigned = partitions_assigned(app)


async def answers(check: Awaitable[Any], what: str) -> bool:
    """Whether ``check`` comes back truthy within the probe timeout; never raises (a timer
    that raises would crash the worker)."""
    try:
        return bool(await asyncio.wait_for(check, PROBE_TIMEOUT))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"; logged
        log.warning("readiness: %s does not answer: %r", what, exc)
        return False


def sample_value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def dead_letter_counts(metrics: Metrics) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["stage"], sample.labels["reason"]): sample.value
        for family in metrics.dead_lettered.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    }


async def recent_alerts(es: AsyncElasticsearch, index: str) -> list[dict[str, Any]] | None:
    """The latest alert records, or None when the index does not answer in time."""
    try:
        found = await es.options(request_timeout=PROBE_TIMEOUT).search(
            index=index, sort=[{"updated_at": "desc"}], size=15
        )
    except Exception as exc:  # noqa: BLE001 - the page says so instead of failing
        log.warning("status page: no alerts from %s: %r", index, exc)
        return None
    return [hit["_source"] for hit in found["hits"]["hits"]]


def partitions_assigned(app: faust.App) -> bool:
    try:
        return bool(app.consumer.assignment()) and not app.rebalancing
    except Exception:  # noqa: BLE001 - the consumer is not started yet
        return False


def consumer_lags(app: faust.App) -> Iterator[tuple[str, int, int]]:
    """(topic, partition, lag) of each assigned partition: high watermark − committed."""
    try:
        assigned = list(app.consumer.assignment())
    except Exception:  # noqa: BLE001 - the consumer is not started yet: no partitions
        return
    committed = getattr(app.consumer, "_committed_offset", {})
    for tp in assigned:
        try:
            highwater = app.consumer.highwater(tp)
        except AssertionError:  # revoked since assignment() was read
            continue
        if highwater is not None:
            yield tp.topic, tp.partition, max(0, highwater - (committed.get(tp) or 0))
