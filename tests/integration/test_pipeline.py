"""The whole pipeline against real Kafka, Elasticsearch and a webhook receiver on loopback."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from streams.devtools import WebhookReceiver
from streams.settings import Settings

from .conftest import ARTICLE_IDS, SAMPLES, SEED_ID, consume_all, get_docs, sample_lines, wait_until

pytestmark = pytest.mark.integration


def alerts(es: Elasticsearch, settings: Settings, **term: str) -> list[dict[str, Any]]:
    es.indices.refresh(index=settings.alerts_index)
    query = {"bool": {"filter": [{"term": {k: v}} for k, v in term.items()]}}
    hits = es.search(index=settings.alerts_index, query=query, size=100)["hits"]["hits"]
    return [h["_source"] for h in hits]


def test_seed_article_is_searchable_with_its_persons_and_topic(indexed: dict[str, Any]) -> None:
    seed = indexed[SEED_ID]
    persons = {e["name"] for e in seed["entities"] if e["label"] == "PERSON"}
    assert {
        "Igor Morgulov",
        "Xi Jinping",
        "Vladimir Putin",
        "Wang Yi",
        "Sergei Shoigu",
        "Sanae Takaichi",
    } <= persons
    assert "sanctions" in {t["label"] for t in seed["topics"]}
    assert "error: Content is protected" not in seed["body"]


def test_every_valid_sample_is_indexed_once(
    indexed: dict[str, Any], es: Elasticsearch, settings: Settings
) -> None:
    es.indices.refresh(index=settings.articles_alias)
    assert es.count(index=settings.articles_alias)["count"] == len(ARTICLE_IDS) + 1


def test_search_finds_the_seed_by_entity_and_topic(
    indexed: dict[str, Any], es: Elasticsearch, settings: Settings
) -> None:
    es.indices.refresh(index=settings.articles_alias)
    hits = es.search(
        index=settings.articles_alias,
        query={
            "query_string": {"query": 'entities.name:"Sergei Shoigu" AND topics.label:sanctions'}
        },
    )["hits"]["hits"]
    assert [h["_id"] for h in hits] == [SEED_ID]


def test_replay_overwrites_instead_of_duplicating(
    indexed: dict[str, Any], produce: Any, es: Elasticsearch, settings: Settings
) -> None:
    before = indexed[SEED_ID]["ingested_at"]
    produce(SAMPLES / "seed_article.jsonl")
    wait_until(
        lambda: get_docs(es, settings.articles_alias, [SEED_ID])[SEED_ID]["ingested_at"] != before,
        timeout=60,
        what="the replayed seed article to be re-indexed",
    )
    assert es.count(index=settings.articles_alias)["count"] == len(ARTICLE_IDS) + 1


def test_html_page_is_reduced_to_its_story(indexed: dict[str, Any]) -> None:
    html_ids = [
        i
        for i, line in zip(ARTICLE_IDS, sample_lines("articles.jsonl"), strict=True)
        if orjson.loads(line).get("html")
    ]
    assert html_ids, "samples must include an HTML page"
    body = indexed[html_ids[0]]["body"]
    assert len(body) > 300
    assert "<" not in body and "cookie" not in body.lower()


def test_non_english_articles_are_indexed_with_their_language(indexed: dict[str, Any]) -> None:
    languages = {indexed[i]["language"] for i in ARTICLE_IDS}
    assert {"de", "es", "en"} <= languages


def test_syndicated_copy_points_at_the_first_story(indexed: dict[str, Any]) -> None:
    assert indexed[ARTICLE_IDS[3]]["duplicate_of"] == ARTICLE_IDS[0]
    assert indexed[ARTICLE_IDS[0]]["duplicate_of"] is None


def test_malformed_records_reach_the_dlq_with_reason_and_origin(
    indexed: dict[str, Any], settings: Settings
) -> None:
    records = consume_all(settings, settings.topic_dlq, expect=3)
    letters = [orjson.loads(r.value) for r in records]
    assert len(letters) == 3
    originals = {base64.b64decode(letter["original"]) for letter in letters}
    assert originals == set(sample_lines("malformed.jsonl"))
    for letter in letters:
        assert letter["source_topic"] == settings.topic_raw
        assert letter["stage"] == "parse"
        assert letter["reason"] and letter["source_offset"] >= 0


def test_sanctions_alert_is_recorded_and_delivered_once(
    indexed: dict[str, Any], es: Elasticsearch, settings: Settings, receiver: WebhookReceiver
) -> None:
    records = wait_until(
        lambda: [
            a
            for a in alerts(es, settings, rule_id="sanctions-watch", article_id=SEED_ID)
            if a["status"] == "sent"
        ],
        timeout=60,
        what="the seed's sanctions alert to be sent",
    )
    assert len(records) == 1
    record = records[0]
    assert record["attempts"] == 1 and record["delivered_at"]
    posts = [
        r for r in receiver.received if r.headers.get("X-Newsstream-Alert-Id") == record["alert_id"]
    ]
    assert len(posts) == 1
    assert SEED_ID in posts[0].body.decode()


def test_syndicated_story_fires_one_alert_per_rule(
    indexed: dict[str, Any], es: Elasticsearch, settings: Settings
) -> None:
    original, copy = ARTICLE_IDS[0], ARTICLE_IDS[3]
    wait_until(
        lambda: alerts(es, settings, rule_id="sanctions-watch", article_id=original),
        timeout=60,
        what="the sanctions alert of the original story",
    )
    assert alerts(es, settings, rule_id="sanctions-watch", article_id=copy) == []


def test_ordinary_news_fires_no_alert(
    indexed: dict[str, Any], es: Elasticsearch, settings: Settings
) -> None:
    wait_until(lambda: alerts(es, settings, article_id=SEED_ID), timeout=60, what="any alert")
    sports = ARTICLE_IDS[-1]
    assert alerts(es, settings, article_id=sports) == []


def test_offsets_are_committed_once_every_record_was_handled(
    indexed: dict[str, Any], settings: Settings
) -> None:
    from kafka import KafkaConsumer, TopicPartition

    # Reads the group's committed offsets; it never joins the group (no subscribe/poll).
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.app_id,
        enable_auto_commit=False,
    )
    try:
        partitions = [
            TopicPartition(settings.topic_raw, p) for p in range(settings.topic_partitions)
        ]
        ends = consumer.end_offsets(partitions)
        wait_until(
            lambda: all(consumer.committed(tp) == ends[tp] for tp in partitions),
            timeout=60,
            what="the raw topic's offsets to be committed",
        )
    finally:
        consumer.close(autocommit=False)
