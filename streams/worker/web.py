"""The worker's web port: /metrics, /healthz, /readyz, and nothing of Faust's own.

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
from collections.abc import Awaitable, Iterator
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import AsyncElasticsearch
from faust.web.base import BlueprintManager
from prometheus_client import generate_latest

from streams.kafka import KafkaConnection
from streams.settings import Settings
from streams.worker.telemetry import Health, LagCollector, Metrics

log = logging.getLogger(__name__)

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
PROBE_SECONDS = 5.0
PROBE_TIMEOUT = 3.0


def add_pages(app: faust.App, metrics: Metrics, health: Health) -> None:
    app.web.blueprints = BlueprintManager()  # none of Faust's own pages
    metrics.registry.register(LagCollector(lambda: consumer_offsets(app)))

    @app.page("/metrics")  # type: ignore[untyped-decorator]
    async def metrics_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        body = generate_latest(metrics.registry)
        return web.bytes(body, headers={"Content-Type": PROMETHEUS_TEXT})

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


def partitions_assigned(app: faust.App) -> bool:
    try:
        return bool(app.consumer.assignment()) and not app.rebalancing
    except Exception:  # noqa: BLE001 - the consumer is not started yet
        return False


def consumer_offsets(app: faust.App) -> Iterator[tuple[str, int, int, int]]:
    """(topic, partition, high watermark, committed offset) of each assigned partition."""
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
            yield tp.topic, tp.partition, highwater, committed.get(tp) or 0
