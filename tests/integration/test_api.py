"""`newsstream api` against the real Kafka (and a worker for the end-to-end search).

The API runs as `python -m streams.cli api` with the env of isolated settings, as in
production. For the outage, the API's bootstrap address is a port of our own where
nothing listens: pushes get 503 with Retry-After. For an outage while connected, the
test starts a PLAINTEXT broker of its own (kafka_servers.py; the shared Kafka is never
stopped), stops it under the connected API (503), and starts it again on the same ports
and data (202 again).
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
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
from streams.kafka import ensure_topics
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
from .kafka_servers import KafkaNode, plain_kafka

# The imported fixture is used by name (as a test parameter).
__all__ = ["plain_kafka"]

pytestmark = pytest.mark.integration

TOKEN = "integration-api-token"
NDJSON = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {TOKEN}"}
MAX_BYTES = 64 * 1024
# From stopping the broker to the first 503 (the gateway's 5 s send timeout, plus the
# broker's own shutdown), and to /readyz failing (the probe runs every 5 s).
OUTAGE_BOUND = 30.0


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


def test_kafka_unreachable_at_start_gets_503(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    nowhere = settings.replace(kafka_bootstrap=f"127.0.0.1:{free_port()}", api_port=free_port())
    process = start_api(nowhere, tmp_path_factory.mktemp("api-nowhere") / "api.log")
    try:
        response = push(nowhere, ndjson(article(500)))
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert not ready(nowhere)
    finally:
        localrun.stop(process)


def test_a_broker_stopped_under_a_connected_api_gets_503_then_it_recovers(
    plain_kafka: KafkaNode, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A broker of the test's own (the shared one is never stopped): stopped with SIGTERM
    while the API is connected, then started again on the same ports and data."""
    settings = Settings.from_env().isolated(
        f"test-{uuid.uuid4().hex[:8]}",
        kafka_bootstrap=plain_kafka.bootstrap,
        topic_partitions=1,
        api_host="127.0.0.1",
        api_port=free_port(),
        api_tokens=Secret(TOKEN),
    )
    ensure_topics(settings)
    process = start_api(settings, tmp_path_factory.mktemp("api-restart") / "api.log")
    try:
        wait_until(lambda: ready(settings), timeout=30, what="the API to connect to Kafka")
        before = push(settings, ndjson(article(600)))
        assert before.status_code == 202, before.text

        plain_kafka.stop()
        stopped = time.monotonic()
        refused = wait_until(
            lambda: (r := push(settings, ndjson(article(601)))).status_code == 503 and r,
            timeout=OUTAGE_BOUND,
            what="a 503 while the broker is down",
        )
        assert time.monotonic() - stopped < OUTAGE_BOUND
        assert int(refused.headers["Retry-After"]) > 0
        assert "Kafka" in refused.json()["detail"]
        wait_until(lambda: not ready(settings), timeout=OUTAGE_BOUND, what="/readyz to fail")

        plain_kafka.start()  # same ports, same data folder
        wait_until(lambda: ready(settings), timeout=60, what="the API to reconnect")
        after = push(settings, ndjson(article(602)))
        assert after.status_code == 202, after.text
        keys = topic_keys(settings)
        assert before.json()["ids"][0] in keys and after.json()["ids"][0] in keys
    finally:
        localrun.stop(process)
