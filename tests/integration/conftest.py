"""Fixtures for tests against the real local Kafka and Elasticsearch (`make up`).

Each test session gets its own topics, consumer group, alias and alerts index (a random
suffix), so tests neither see nor disturb the demo's data, and a real `newsstream worker`
subprocess runs the whole pipeline against them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer

from streams import localrun
from streams.alerts.receiver import WebhookReceiver
from streams.errors import StackError
from streams.settings import Secret, Settings
from streams.setup import setup_everything
from streams.sink.client import make_client

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
WEBHOOK_SECRET = "integration-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.5
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


@pytest.fixture(scope="session")
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver) -> Settings:
    base = Settings.from_env()
    suffix = uuid.uuid4().hex[:8]
    prefix = f"test-{suffix}"
    settings = base.replace(
        topic_raw=f"{prefix}.articles.raw",
        topic_enriched=f"{prefix}.articles.enriched",
        topic_dlq=f"{prefix}.articles.dlq",
        topic_alerts=f"{prefix}.alerts",
        topic_alerts_dlq=f"{prefix}.alerts.dlq",
        app_id=f"newsstream-{prefix}",
        articles_alias=f"{prefix}-news-articles",
        alerts_index=f"{prefix}-news-alerts",
        fingerprints_index=f"{prefix}-news-fingerprints",
        worker_data_dir=tmp_path_factory.mktemp("worker"),
        worker_web_port=free_port(),
        webhook_url=receiver.url,
        webhook_secret=Secret(WEBHOOK_SECRET),
        sink_batch_seconds=0.3,
        enrich_batch_seconds=0.1,
    )
    try:
        setup_everything(settings)
    except Exception as exc:  # noqa: BLE001 - turn any set-up failure into one clear message
        pytest.fail(f"the local stack is not usable ({exc}); start it with `make up`")
    return settings


@pytest.fixture(scope="session")
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = make_client(settings)
    yield client
    # Wildcard deletes are refused (action.destructive_requires_name): name each index.
    concrete = list(client.indices.get_alias(name=settings.articles_alias))
    for index in [*concrete, settings.alerts_index, settings.fingerprints_index]:
        client.indices.delete(index=index, ignore_unavailable=True)
    client.close()


@pytest.fixture(scope="session")
def worker(
    settings: Settings, es: Elasticsearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    log_path = tmp_path_factory.mktemp("logs") / "worker.log"
    env = {**os.environ, **settings.as_env()}
    try:
        process = localrun.start(["worker"], env=env, log=log_path, ready=b"Ready", timeout=120)
    except StackError as exc:
        pytest.fail(str(exc))
    try:
        yield log_path
    finally:
        localrun.stop(process)
        delete_topics(settings)


def delete_topics(settings: Settings) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        names = [
            settings.topic_raw,
            settings.topic_enriched,
            settings.topic_dlq,
            settings.topic_alerts,
            settings.topic_alerts_dlq,
        ]
        admin.delete_topics([n for n in names if n in set(admin.list_topics())])
    finally:
        admin.close()


@pytest.fixture(scope="session")
def produce(settings: Settings) -> Callable[[Path], None]:
    def run(path: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "streams.cli", "produce", "--no-progress", str(path)],
            cwd=ROOT,
            env={**os.environ, **settings.as_env()},
            check=True,
        )

    return run


def consume_all(settings: Settings, topic: str, *, expect: int, timeout: float = 60) -> list[Any]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            records.extend(consumer)
    finally:
        consumer.close()
    return records
