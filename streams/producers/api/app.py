"""The aiohttp application: ``POST /v1/articles`` and the service pages.

A push goes through these steps, each with its own answer:

1. the bearer token, compared with every configured token (401 with WWW-Authenticate);
2. the Content-Type: application/json or application/x-ndjson (415);
3. the size: Content-Length, then the streamed body, against NEWSSTREAM_API_MAX_BYTES (413);
4. every article through the codec's gate (422 listing each bad line; nothing published);
5. Kafka: every record sent, keyed by id, and acknowledged by all in-sync replicas
   (202 with the ids in request order), or 503 with Retry-After when Kafka is not
   connected or does not acknowledge in time.

``/healthz`` answers while the event loop runs, ``/readyz`` while the producer is
connected, ``/metrics`` from a registry of its own, ``/openapi.json`` describes it all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.errors import BrokerUnavailable, RecordRejected
from streams.kafka.connection import KafkaConnection
from streams.messages import DEFAULT_MAX_ARTICLE_BYTES, kafka_record_bytes
from streams.producers.api import intake
from streams.producers.api.gateway import RETRY_AFTER, KafkaGateway, Publisher
from streams.producers.api.openapi import openapi_document
from streams.producers.probes import liveness, readiness
from streams.prometheus import METRICS_CONTENT_TYPE, metrics_text
from streams.settings import Settings

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ApiMetrics:
    """The API's Prometheus metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "newsstream_api_requests", "Push requests, by HTTP status.", ["status"], registry=r
        )
        self.accepted = Counter(
            "newsstream_api_articles_accepted", "Articles Kafka acknowledged.", registry=r
        )
        self.rejected = Counter(
            "newsstream_api_rejected_lines", "Lines refused as invalid articles.", registry=r
        )
        self.kafka_latency = Histogram(
            "newsstream_api_kafka_latency_seconds",
            "From the first send of a request to Kafka's last acknowledgement.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.kafka_ready = Gauge(
            "newsstream_api_kafka_ready", "1 while the producer is connected.", registry=r
        )


class _TooLarge(Exception):
    pass


def create_api(
    *,
    publisher: Publisher,
    tokens: Sequence[bytes],
    max_bytes: int,
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES,
    metrics: ApiMetrics | None = None,
) -> web.Application:
    """The application; ``publisher`` is started and stopped with it."""
    metrics = metrics or ApiMetrics()
    metrics.kafka_ready.set_function(lambda: float(publisher.ready))
    document = openapi_document()

    async def push(request: web.Request) -> web.Response:
        response = await _push(
            request, publisher, tokens, max_bytes, metrics, max_article_bytes=max_article_bytes
        )
        metrics.requests.labels(str(response.status)).inc()
        return response

    async def healthz(request: web.Request) -> web.Response:
        status, body = liveness([])  # answering at all: the event loop runs
        return web.json_response(body, status=status)

    async def readyz(request: web.Request) -> web.Response:
        status, body = readiness([] if publisher.ready else ["Kafka unreachable"])
        return web.json_response(body, status=status)

    async def metrics_page(request: web.Request) -> web.Response:
        body = metrics_text(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    async def start_publisher(app: web.Application) -> None:
        await publisher.start()

    async def stop_publisher(app: web.Application) -> None:
        await publisher.stop()

    app = web.Application()
    app.router.add_post("/v1/articles", push)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/openapi.json", openapi)
    app.on_startup.append(start_publisher)
    app.on_cleanup.append(stop_publisher)
    return app


async def _push(
    request: web.Request,
    publisher: Publisher,
    tokens: Sequence[bytes],
    max_bytes: int,
    metrics: ApiMetrics,
    *,
    max_article_bytes: int,
) -> web.Response:
    given = intake.bearer_token(request.headers.get("Authorization"))
    if not intake.token_accepted(given, tokens):
        body, challenge = intake.unauthorized(given)
        return _problem(body, headers={"WWW-Authenticate": challenge})
    if request.content_type not in intake.CONTENT_TYPES:
        return _problem(intake.unsupported_type(request.headers.get("Content-Type", "")))
    try:
        raw = await _read_body(request, max_bytes)
    except _TooLarge:
        return _problem(intake.too_large(max_bytes), headers={"Connection": "close"})
    ndjson = request.content_type == intake.NDJSON
    articles = intake.read_articles(raw, ndjson=ndjson, max_article_bytes=max_article_bytes)
    if articles.errors:
        metrics.rejected.inc(len(articles.errors))
        return _problem(intake.invalid_articles(articles.errors))
    started = time.perf_counter()
    try:
        await publisher.publish(articles.records)
    except BrokerUnavailable as exc:
        log.warning("api: answering 503: %s", exc)
        return _problem(
            intake.kafka_unavailable(str(exc), RETRY_AFTER),
            headers={"Retry-After": str(RETRY_AFTER)},
        )
    except RecordRejected as exc:
        return _problem(intake.problem(413, "Record too large for Kafka", str(exc)))
    metrics.kafka_latency.observe(time.perf_counter() - started)
    metrics.accepted.inc(len(articles.records))
    return web.json_response(intake.accepted(articles.records), status=202)


async def _read_body(request: web.Request, max_bytes: int) -> bytes:
    """The body, read in chunks; _TooLarge as soon as it exceeds ``max_bytes``."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(body: dict[str, Any], *, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        body, status=body["status"], headers=headers, content_type=intake.PROBLEM
    )


def run_api(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM (``newsstream api``)."""
    tokens = intake.parse_tokens(settings.api_tokens)
    if not tokens:
        log.warning("api: NEWSSTREAM_API_TOKENS is empty: every push is refused (401)")
    gateway = KafkaGateway(
        connection=KafkaConnection.from_settings(settings),
        topic=settings.topic_raw,
        max_request_size=kafka_record_bytes(settings.max_article_bytes),
    )
    app = create_api(
        publisher=gateway,
        tokens=tokens,
        max_bytes=settings.api_max_bytes,
        max_article_bytes=settings.max_article_bytes,
    )
    host, port = settings.api_host, settings.api_port

    def started(_: str) -> None:
        log.info("newsstream api listening on http://%s:%s (topic %s)", host, port, topic)

    topic = settings.topic_raw
    web.run_app(app, host=host, port=port, print=started)
