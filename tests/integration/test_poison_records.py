"""Garbage on every topic the worker reads is dead-lettered, and the next record goes through.

A worker of its own (topics, group and indices of its own), so these letters do not mix
with the main pipeline tests' dead letters.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from streams.devtools import WebhookReceiver, localrun
from streams.elastic import make_client
from streams.settings import Settings
from streams.setup import remove_everything

from .conftest import (
    SAMPLES,
    SEED_ID,
    consume_all,
    get_docs,
    isolated_settings,
    produce_file,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

GARBAGE = b"\xff\xfe\x00 not json {"


@pytest.fixture(scope="module")
def own_receiver() -> Iterator[WebhookReceiver]:
    """This worker's alerts (the seed's among them) must not reach the session's receiver,
    where the pipeline tests count the seed's deliveries."""
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


@pytest.fixture(scope="module")
def poisoned(
    tmp_path_factory: pytest.TempPathFactory, own_receiver: WebhookReceiver
) -> Iterator[tuple[Settings, Elasticsearch, Path]]:
    settings = isolated_settings(
        tmp_path_factory.mktemp("poison"), webhook_url=own_receiver.url, log_format="json"
    )
    log = tmp_path_factory.mktemp("poison-logs") / "worker.log"
    process = start_worker(settings, log)
    es = make_client(settings)
    yield settings, es, log
    es.close()
    localrun.stop(process)
    remove_everything(settings)


def send(settings: Settings, topic: str, key: bytes, *values: bytes) -> None:
    """Records with one key land on one partition, in this order."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        for value in values:
            producer.send(topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def letters_from(settings: Settings, topic: str, source_topic: str, expect: int) -> list[Any]:
    def found() -> list[Any]:
        records = consume_all(settings, topic, expect=expect, timeout=5)
        letters = [orjson.loads(r.value) for r in records]
        mine = [x for x in letters if x["source_topic"] == source_topic]
        return mine if len(mine) >= expect else []

    return wait_until(found, timeout=90, what=f"{expect} dead letters from {source_topic}")  # type: ignore[no-any-return]


def test_garbage_on_the_raw_topic(poisoned: tuple[Settings, Elasticsearch, Path]) -> None:
    settings, es, _ = poisoned
    key = SEED_ID.encode()
    send(settings, settings.topic_raw, key, GARBAGE)
    produce_file(settings, SAMPLES / "seed_article.jsonl")  # same key: after the garbage
    [letter] = letters_from(settings, settings.topic_dlq, settings.topic_raw, 1)
    assert letter["stage"] == "parse" and base64.b64decode(letter["original"]) == GARBAGE
    wait_until(
        lambda: get_docs(es, settings.articles_alias, [SEED_ID]),
        timeout=120,
        what="the seed article after the garbage",
    )


def test_garbage_on_the_enriched_topic(poisoned: tuple[Settings, Elasticsearch, Path]) -> None:
    settings, es, _ = poisoned
    seed = wait_until(
        lambda: get_docs(es, settings.articles_alias, [SEED_ID]).get(SEED_ID),
        timeout=120,
        what="the seed article",
    )
    copy_id = uuid.uuid4().hex
    good = orjson.dumps({**seed, "id": copy_id, "duplicate_of": None})
    send(settings, settings.topic_enriched, copy_id.encode(), GARBAGE, good)
    letters = letters_from(settings, settings.topic_dlq, settings.topic_enriched, 2)
    assert sorted(x["stage"] for x in letters) == ["index", "match-alerts"]
    assert all(base64.b64decode(x["original"]) == GARBAGE for x in letters)
    wait_until(
        lambda: get_docs(es, settings.articles_alias, [copy_id]),
        timeout=60,
        what="the good enriched record to be indexed",
    )
    wait_until(  # the seed is sanctions news: its copy fires the sanctions rule
        lambda: alerts_of(es, settings, copy_id),
        timeout=60,
        what="the good enriched record to be matched",
    )


def alerts_of(es: Elasticsearch, settings: Settings, article_id: str) -> list[Any]:
    es.indices.refresh(index=settings.alerts_index)
    query = {"term": {"article_id": article_id}}
    return [
        h["_source"] for h in es.search(index=settings.alerts_index, query=query)["hits"]["hits"]
    ]


def test_garbage_on_the_alerts_topic(
    poisoned: tuple[Settings, Elasticsearch, Path], own_receiver: WebhookReceiver
) -> None:
    settings, _, _ = poisoned
    alert_id = uuid.uuid4().hex
    alert = {
        "alert_id": alert_id,
        "rule_id": "sanctions-watch",
        "rule_name": "Sanctions news",
        "article_id": "poison-test",
        "article_title": "After the garbage",
        "article_url": None,
        "evidence": [],
        "created_at": "2026-12-06T00:00:00.000Z",
        "targets": ["default"],
    }
    send(settings, settings.topic_alerts, alert_id.encode(), GARBAGE, orjson.dumps(alert))
    [letter] = letters_from(settings, settings.topic_alerts_dlq, settings.topic_alerts, 1)
    assert letter["stage"] == "deliver-alerts" and "JSON" in letter["reason"]
    wait_until(
        lambda: alert_id in own_receiver.alert_ids(),
        timeout=60,
        what="the alert after the garbage to be delivered",
    )


def test_the_worker_logs_json_lines_with_the_record_s_origin(
    poisoned: tuple[Settings, Elasticsearch, Path],
) -> None:
    settings, _, log = poisoned
    send(settings, settings.topic_raw, b"log-test", GARBAGE)

    def dead_letter_lines() -> list[dict[str, Any]]:
        lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.strip()]
        return [x for x in lines if x.get("stage") == "parse" and "dead-lettered" in x["message"]]

    [*_, entry] = wait_until(dead_letter_lines, timeout=60, what="a JSON dead-letter log line")
    assert entry["topic"] == settings.topic_raw and entry["level"] == "WARNING"
    assert isinstance(entry["partition"], int) and isinstance(entry["offset"], int)
