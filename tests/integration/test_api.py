"""`newsstream api` against the real Kafka (and a worker for the end-to-end search).

The API runs as `python -m streams.cli api` with the env of isolated settings, as in
production. For the outage, the API's bootstrap address is a port of our own where
nothing listens (the shared Kafka is never stopped): pushes get 503 with Retry-After.
Then a TCP proxy opens on that port and forwards to the real broker, and the same API
instance connects and accepts. The proxy cannot simulate an outage after the
connection: Kafka's metadata advertises 127.0.0.1:9092, so once bootstrapped the
producer talks to the broker directly, past the proxy. A send that times out on a
connected producer is covered by the unit tests with a producer that never acknowledges.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.devtools import localrun
from streams.elastic import make_client
from streams.errors import StackError
from streams.producers.api import read_articles
from streams.settings import Secret, Settings
from streams.setup import remove_everything

from .conftest import (
    ARTICLE_IDS,
    SAMPLES,
    SEED_ID,
    free_port,
    get_docs,
    isolated_settings,
    sample_lines,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

TOKEN = "integration-api-token"
NDJSON = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {TOKEN}"}
MAX_BYTES = 64 * 1024


def start_api(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.as_env()}
    try:
        return localrun.start(
            ["api"], env=env, log=log_path, ready=b"newsstream api listening", timeout=30
        )
    except StackError as exc:
        pytest.fail(str(exc))


def base_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.api_port}"


def ready(settings: Settings) -> bool:
    return httpx.get(base_url(settings) + "/readyz", timeout=5).status_code == 200


def push(settings: Settings, body: bytes, headers: dict[str, str] = NDJSON) -> httpx.Response:
    return httpx.post(
        base_url(settings) + "/v1/articles", content=body, headers=headers, timeout=30
    )


def topic_keys(settings: Settings) -> list[str]:
    """The keys of every record on the raw topic, read from the start to its current end."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(settings.topic_raw, p)
            for p in consumer.partitions_for_topic(settings.topic_raw) or ()
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        keys: list[str] = []
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                keys.extend(r.key.decode() for r in records)
        return keys
    finally:
        consumer.close()


def article(n: int) -> dict[str, Any]:
    return {"url": f"https://example.com/api-test/{n}", "title": f"API test {n}", "text": "Body."}


def ndjson(*records: dict[str, Any] | bytes) -> bytes:
    return b"\n".join(r if isinstance(r, bytes) else orjson.dumps(r) for r in records) + b"\n"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = isolated_settings(
        tmp_path_factory.mktemp("api"),
        api_host="127.0.0.1",
        api_port=free_port(),
        api_tokens=Secret(f"another-token, {TOKEN}"),
        api_max_bytes=MAX_BYTES,
    )
    yield settings
    remove_everything(settings)


@pytest.fixture(scope="module")
def api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    process = start_api(settings, tmp_path_factory.mktemp("api-logs") / "api.log")
    wait_until(lambda: ready(settings), timeout=30, what="the API to connect to Kafka")
    yield settings
    localrun.stop(process)


@pytest.fixture(scope="module")
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = make_client(settings)
    yield client
    client.close()


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="newsstream"'),
        ("Bearer wrong-token", 'Bearer realm="newsstream", error="invalid_token"'),
        (f"Basic {TOKEN}", 'Bearer realm="newsstream"'),
    ],
)
def test_a_missing_or_wrong_token_gets_401(
    api: Settings, authorization: str | None, challenge: str
) -> None:
    headers = {"Content-Type": "application/x-ndjson"}
    if authorization:
        headers["Authorization"] = authorization
    response = push(api, ndjson(article(0)), headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_invalid_lines_get_422_and_nothing_of_the_request_reaches_kafka(api: Settings) -> None:
    good = [article(n) for n in (1, 2, 3)]
    body = ndjson(good[0], {"title": "no text"}, good[1], b"", b"{not json", good[2])
    response = push(api, body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["invalid_lines"] == 2
    assert [e["line"] for e in problem["errors"]] == [2, 5]
    assert "neither 'text' nor 'html'" in problem["errors"][0]["reason"]
    assert "not valid JSON" in problem["errors"][1]["reason"]
    refused_ids = {r.id for r in read_articles(ndjson(*good), ndjson=True).records}

    sentinel = push(api, ndjson(article(99)))  # acknowledged after the 422 was answered
    assert sentinel.status_code == 202
    keys = topic_keys(api)
    assert sentinel.json()["ids"][0] in keys
    assert not refused_ids & set(keys)


def test_a_body_over_the_limit_gets_413(api: Settings) -> None:
    big = ndjson(*[article(n) for n in range(2000)])
    assert len(big) > MAX_BYTES
    assert push(api, big).status_code == 413  # announced by Content-Length

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    response = httpx.post(
        base_url(api) + "/v1/articles", content=chunks(), headers=NDJSON, timeout=30
    )
    assert response.status_code == 413
    assert response.json()["max_bytes"] == MAX_BYTES


def test_an_accepted_batch_is_searchable(
    api: Settings, es: Elasticsearch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    worker = start_worker(api, tmp_path_factory.mktemp("api-worker") / "worker.log")
    try:
        batch = push(api, b"\n".join(sample_lines("articles.jsonl")))
        assert batch.status_code == 202, batch.text
        assert batch.json() == {"accepted": len(ARTICLE_IDS), "ids": ARTICLE_IDS}
        seed = (SAMPLES / "seed_article.jsonl").read_bytes().strip()
        single = push(api, seed, {**NDJSON, "Content-Type": "application/json"})
        assert single.status_code == 202 and single.json()["ids"] == [SEED_ID]

        wanted = [SEED_ID, *ARTICLE_IDS]
        docs = wait_until(
            lambda: len(found := get_docs(es, api.articles_alias, wanted)) == len(wanted) and found,
            timeout=180,
            what="the pushed articles in Elasticsearch",
        )
        assert docs[SEED_ID]["title"]
    finally:
        localrun.stop(worker)
    samples = scrape(api)
    assert samples[("newsstream_api_articles_accepted_total", ())] >= len(wanted)
    assert samples[("newsstream_api_requests_total", (("status", "202"),))] >= 2
    assert samples[("newsstream_api_kafka_latency_seconds_count", ())] >= 2


def scrape(settings: Settings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(base_url(settings) + "/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


class _Forward(socketserver.BaseRequestHandler):
    target: tuple[str, int]

    def handle(self) -> None:
        upstream = socket.create_connection(self.server.target)  # type: ignore[attr-defined]
        pump = threading.Thread(target=_copy, args=(upstream, self.request), daemon=True)
        pump.start()
        _copy(self.request, upstream)
        pump.join()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for s in (source, sink):
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


class TcpProxy(socketserver.ThreadingTCPServer):
    """Forwards 127.0.0.1:port to the broker: Kafka 'coming back' at the bootstrap address."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", port), _Forward)
        self.target = target
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def test_kafka_unreachable_gets_503_then_the_api_recovers(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    proxy_port = free_port()
    outage = settings.replace(kafka_bootstrap=f"127.0.0.1:{proxy_port}", api_port=free_port())
    process = start_api(outage, tmp_path_factory.mktemp("api-outage") / "api.log")
    proxy = None
    try:
        response = push(outage, ndjson(article(500)))
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert not ready(outage)

        host, _, port = settings.kafka_bootstrap.split(",")[0].rpartition(":")
        proxy = TcpProxy(proxy_port, (host, int(port)))
        wait_until(lambda: ready(outage), timeout=30, what="the API to reconnect")
        response = push(outage, ndjson(article(501)))
        assert response.status_code == 202, response.text
        assert response.json()["ids"][0] in topic_keys(settings)
    finally:
        localrun.stop(process)
        if proxy is not None:
            proxy.close()
