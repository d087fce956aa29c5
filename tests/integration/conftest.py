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
from kafka import KafkaConsumer

from streams.devtools import WebhookReceiver, localrun
from streams.elastic import make_client
from streams.errors import StackError
from streams.producers import to_record
from streams.settings import Secret, Settings
from streams.setup import remove_everything, setup_everything

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


def isolated_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings with topics, group and indices of their own, created on the real stack."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = Settings.from_env().isolated(
        prefix,
        worker_data_dir=tmp / "worker",
        worker_web_port=free_port(),
        sink_batch_seconds=0.3,
        enrich_batch_seconds=0.1,
        # One local node: a replica could never be assigned (the cluster would turn yellow).
        **{"index_replicas": 0, **overrides},
    )
    try:
        setup_everything(settings)
    except Exception as exc:  # noqa: BLE001 - turn any set-up failure into one clear message
        pytest.fail(f"the local stack is not usable ({exc}); start it with `make up`")
    return settings


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.as_env()}
    try:
        return localrun.start(["worker"], env=env, log=log_path, ready=b"Ready", timeout=120)
    except StackError as exc:
        pytest.fail(str(exc))


def produce_file(settings: Settings, path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "produce", "--no-progress", str(path)],
        cwd=ROOT,
        env={**os.environ, **settings.as_env()},
        check=True,
    )


@pytest.fixture(scope="session")
def settings(
    tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver
) -> Iterator[Settings]:
    settings = isolated_settings(
        tmp_path_factory.mktemp("main"),
        webhook_url=receiver.url,
        webhook_secret=Secret(WEBHOOK_SECRET),
    )
    yield settings
    remove_everything(settings)


@pytest.fixture(scope="session")
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = make_client(settings)
    yield client
    client.close()


@pytest.fixture(scope="session")
def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    log_path = tmp_path_factory.mktemp("logs") / "worker.log"
    process = start_worker(settings, log_path)
    yield log_path
    localrun.stop(process)


@pytest.fixture(scope="session")
def produce(settings: Settings) -> Callable[[Path], None]:
    def run(path: Path) -> None:
        produce_file(settings, path)

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


def sample_lines(name: str) -> list[bytes]:
    return [line for line in (SAMPLES / name).read_bytes().splitlines() if line.strip()]


def ids_of(name: str) -> list[str]:
    return [to_record(line).key.decode() for line in sample_lines(name)]


SEED_ID = ids_of("seed_article.jsonl")[0]
ARTICLE_IDS = ids_of("articles.jsonl")


def get_docs(es: Elasticsearch, index: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    es.indices.refresh(index=index)
    found = es.mget(index=index, ids=ids)["docs"]
    return {d["_id"]: d["_source"] for d in found if d.get("found")}


@pytest.fixture(scope="session")
def indexed(
    worker: Path, produce: Any, settings: Settings, es: Elasticsearch
) -> dict[str, dict[str, Any]]:
    for name in ("seed_article.jsonl", "articles.jsonl", "malformed.jsonl"):
        produce(SAMPLES / name)
    wanted = [SEED_ID, *ARTICLE_IDS]
    return wait_until(  # type: ignore[no-any-return]
        lambda: (
            (docs := get_docs(es, settings.articles_alias, wanted))
            and len(docs) == len(wanted)
            and docs
        ),
        timeout=180,
        what="every sample article in Elasticsearch",
    )
