"""Each stage of the worker with in-memory fakes of its stores and the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError

from streams.alerts import RulesHolder, parse_rules
from streams.elastic import BulkOutcome
from streams.enrich import Enriched, Fingerprint, InMemoryDuplicateIndex, fingerprint
from streams.errors import (
    BrokerUnavailable,
    DeliveryError,
    EnrichmentError,
    RecordRejected,
    SinkBackpressure,
)
from streams.messages import (
    DEFAULT_MAX_ARTICLE_BYTES,
    Alert,
    EnrichedArticle,
    RawArticle,
    dumps,
    kafka_record_bytes,
)
from streams.worker import (
    DeadLetters,
    DeliverAlertsStage,
    EnrichStage,
    IndexStage,
    MatchAlertsStage,
    Origin,
    Output,
    publish,
    send_due_digests,
)

from .worker_fakes import FakeProducer, Harness

NOW = "2026-12-06T00:00:00.000Z"
STORY = " ".join(f"word{i}" for i in range(60))


def article(article_id: str, body: str = STORY, **fields: Any) -> EnrichedArticle:
    return EnrichedArticle(
        id=article_id,
        url=None,
        title=fields.pop("title", "A title"),
        body=body,
        language="en",
        source=None,
        published_at=None,
        ingested_at=NOW,
        entities=[],
        categories=[],
        topics=[],
        keywords=[],
        **fields,
    )


def raw_line(article_id: str, text: str = STORY) -> bytes:
    return orjson.dumps({"id": article_id, "title": "t", "text": text})


class FakeEnricher:
    """Enriches by copying the text; an article whose text says "fail" fails."""

    def enrich_batch(
        self, raws: Sequence[RawArticle], *, ingested_at: str
    ) -> list[Enriched | EnrichmentError]:
        return [
            EnrichmentError(f"article {r.id}: cannot enrich")
            if r.text == "fail"
            else Enriched(article(r.id, r.text or ""), fingerprint(r.text or ""))
            for r in raws
        ]


@dataclass
class FakeFingerprints:
    index: InMemoryDuplicateIndex = field(default_factory=InMemoryDuplicateIndex)
    refused: set[str] = field(default_factory=set)
    busy: int = 0

    async def first_seen(self, article_id: str, fp: Fingerprint) -> str | None:
        if self.busy:
            self.busy -= 1
            raise SinkBackpressure("fingerprints busy", retry_after=0.0)
        if article_id in self.refused:
            raise RecordRejected(f"fingerprint of article {article_id}: refused")
        return self.index.first_seen(article_id, fp)


def enrich_harness(
    fingerprints: FakeFingerprints | None = None,
    producer: FakeProducer | None = None,
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES,
) -> Harness:
    producer = producer or FakeProducer()
    stage = EnrichStage(
        enricher=FakeEnricher(),
        fingerprints=fingerprints or FakeFingerprints(),
        producer=producer,
        output_topic="enriched",
        executor=ThreadPoolExecutor(1),
        max_article_bytes=max_article_bytes,
    )
    return Harness(stage, producer=producer)


def test_enrich_publishes_articles_with_their_duplicate_of() -> None:
    harness = enrich_harness()
    harness.run(raw_line("first"), raw_line("copy"), raw_line("other", "something else " * 20))
    out = [s.json() for s in harness.producer.on("enriched")]
    assert [(a["id"], a["duplicate_of"]) for a in out] == [
        ("first", None),
        ("copy", "first"),
        ("other", None),
    ]
    assert [s.key for s in harness.producer.on("enriched")] == [b"first", b"copy", b"other"]


def test_enrich_dead_letters_a_failed_article_and_garbage_but_not_its_batch_mates() -> None:
    harness = enrich_harness()
    harness.run(b"\x00garbage", raw_line("bad", "fail"), raw_line("good"))
    assert [s.json()["id"] for s in harness.producer.on("enriched")] == ["good"]
    stages = [(letter["stage"], letter["error_type"]) for letter in harness.letters()]
    assert stages == [("parse", "InvalidArticle"), ("enrich", "EnrichmentError")]


def test_an_id_the_fingerprint_store_refuses_fails_only_its_article() -> None:
    harness = enrich_harness(FakeFingerprints(refused={"odd"}))
    harness.run(raw_line("a"), raw_line("odd", "other text " * 20), raw_line("b", "more " * 40))
    assert [s.json()["id"] for s in harness.producer.on("enriched")] == ["a", "b"]
    [letter] = harness.letters()
    assert letter["error_type"] == "RecordRejected" and "odd" in letter["reason"]


def test_a_busy_fingerprint_store_is_waited_out() -> None:
    harness = enrich_harness(FakeFingerprints(busy=2))
    harness.run(raw_line("a"))
    assert [s.json()["id"] for s in harness.producer.on("enriched")] == ["a"]
    assert harness.letters() == [] and len(harness.slept) == 2


def test_an_output_kafka_finds_too_large_fails_only_its_record() -> None:
    def fail(topic: str, value: bytes) -> Exception | None:
        too_large = topic == "enriched" and b"huge" in value
        return MessageSizeTooLargeError() if too_large else None

    harness = enrich_harness(producer=FakeProducer(fail=fail))
    harness.run(raw_line("a"), raw_line("big", "huge " * 50), raw_line("b", "small " * 40))
    assert [s.json()["id"] for s in harness.producer.on("enriched")] == ["a", "b"]
    [letter] = harness.letters()
    assert letter["error_type"] == "RecordRejected" and "too large" in letter["reason"]


def test_an_enriched_output_over_the_request_size_is_dead_lettered_never_retried() -> None:
    # aiokafka refuses a record over its max_request_size at send(), before the broker.
    limit = kafka_record_bytes(DEFAULT_MAX_ARTICLE_BYTES)

    def fail(topic: str, value: bytes) -> Exception | None:
        return MessageSizeTooLargeError() if len(value) > limit else None

    producer = FakeProducer(fail=fail, at_send=True)
    # An enriched record can outgrow its raw one (entities, spans, keywords): here the
    # gate lets the raw record through and the (fake) enricher passes the text on whole.
    harness = enrich_harness(producer=producer, max_article_bytes=2 * limit)
    huge = "word " * (limit // 5 + 1)
    harness.run(raw_line("a"), raw_line("big", huge), raw_line("b", "small " * 40))
    assert [s.json()["id"] for s in producer.on("enriched")] == ["a", "b"]
    [letter] = harness.letters()
    assert letter["error_type"] == "RecordRejected" and letter["stage"] == "enrich"
    assert "NEWSSTREAM_MAX_ARTICLE_BYTES" in letter["reason"]
    assert harness.slept == []  # no backoff: retrying cannot make it fit
    assert isinstance(harness.stage, EnrichStage) and harness.stage.retained == {}


def test_the_enrich_stage_parses_with_the_size_limit_it_is_given() -> None:
    harness = enrich_harness(max_article_bytes=200)
    harness.run(raw_line("a", "short"), raw_line("long", "word " * 100))
    assert [s.json()["id"] for s in harness.producer.on("enriched")] == ["a"]
    [letter] = harness.letters()
    assert letter["stage"] == "parse" and letter["error_type"] == "InvalidArticle"
    assert "at most 200 are accepted (NEWSSTREAM_MAX_ARTICLE_BYTES)" in letter["reason"]


def test_publish_classifies_kafka_errors_behind_faust_s_wrapper() -> None:
    def fail(topic: str, value: bytes) -> Exception | None:
        cause = MessageSizeTooLargeError() if value == b"big" else KafkaTimeoutError()
        error = ProducerSendError(f"Error while sending: {cause!r}")
        error.__cause__ = cause
        return None if value == b"ok" else error

    producer = FakeProducer(fail=fail, at_send=True)
    outputs = [[Output("t", None, v)] for v in (b"ok", b"big", b"slow")]
    ok, big, slow = asyncio.run(publish(producer, outputs))
    assert ok is None
    assert isinstance(big, RecordRejected) and isinstance(slow, BrokerUnavailable)


@dataclass
class FakeBulk:
    outcomes: list[BulkOutcome]
    requests: list[list[str]] = field(default_factory=list)
    documents: dict[str, Any] = field(default_factory=dict)

    async def __call__(self, docs: Sequence[tuple[str, Any]]) -> BulkOutcome:
        self.requests.append([doc_id for doc_id, _ in docs])
        self.documents.update(docs)
        return self.outcomes.pop(0)


def enriched_line(article_id: str, **fields: Any) -> bytes:
    return dumps(article(article_id, **fields))


def test_index_sends_the_last_copy_of_an_id_and_classifies_each_document() -> None:
    bulk = FakeBulk(
        [
            BulkOutcome(
                indexed=["a"],
                retryable={"b": "429 es_rejected_execution_exception"},
                rejected={"c": "400 document_parsing_exception: failed to parse"},
            ),
            BulkOutcome(indexed=["b"]),
        ]
    )
    harness = Harness(IndexStage(bulk=bulk))
    harness.run(
        enriched_line("a", title="old"),
        enriched_line("b"),
        enriched_line("a", title="new"),
        enriched_line("c"),
        b"{not json",
    )
    assert bulk.requests == [["a", "b", "c"], ["b"]]
    assert bulk.documents["a"] == enriched_line("a", title="new")  # the record, not re-encoded
    letters = harness.letters()
    assert [(x["stage"], x["source_offset"]) for x in letters] == [("index", 4), ("index", 3)]
    assert letters[1]["reason"].startswith("Elasticsearch rejected the document: 400")


def test_index_finds_the_document_behind_a_refused_bulk_request() -> None:
    @dataclass
    class RefusesBig:
        requests: int = 0

        async def __call__(self, docs: Sequence[tuple[str, Any]]) -> BulkOutcome:
            self.requests += 1
            if any(b'"title":"big"' in doc for _, doc in docs):
                raise RecordRejected("bulk request: Elasticsearch refused it: 413")
            return BulkOutcome(indexed=[doc_id for doc_id, _ in docs])

    harness = Harness(IndexStage(bulk=RefusesBig()))
    harness.run(enriched_line("a"), enriched_line("b", title="big"), enriched_line("c"))
    [letter] = harness.letters()
    assert letter["source_offset"] == 1 and "413" in letter["reason"]


RULES = """
version: 1
rules:
  - id: tariffs
    name: Tariff news
    query: {query_string: "title:tariffs"}
"""


def rules_holder() -> RulesHolder:
    rules = parse_rules(
        RULES, source="test", environ={}, default_webhook_url="http://127.0.0.1:1/hook"
    )
    return RulesHolder(Path("rules.yaml"), "http://127.0.0.1:1/hook", "", {}, rules)


def test_match_alerts_publishes_one_alert_per_rule_that_fires() -> None:
    producer = FakeProducer()
    harness = Harness(MatchAlertsStage(rules_holder(), producer, output_topic="alerts"), producer)
    harness.run(
        enriched_line("a", title="New tariffs"), b"[]", enriched_line("b", title="Football")
    )
    [alert] = [s.json() for s in producer.on("alerts")]
    assert (alert["rule_id"], alert["article_id"]) == ("tariffs", "a")
    [letter] = harness.letters()
    assert letter["stage"] == "match-alerts" and letter["source_offset"] == 1


def an_alert(alert_id: str) -> Alert:
    return Alert(
        alert_id=alert_id,
        rule_id="r",
        rule_name="Rule",
        article_id="a",
        article_title="A title",
        article_url=None,
        evidence=[],
        created_at=NOW,
        targets=["default"],
    )


@dataclass
class FakeDispatcher:
    failing: set[str] = field(default_factory=set)
    busy: int = 0
    delivered: list[str] = field(default_factory=list)
    digest_failures: list[tuple[DeliveryError, list[Alert]]] = field(default_factory=list)

    async def dispatch(self, alert: Alert) -> DeliveryError | None:
        if self.busy:
            self.busy -= 1
            raise SinkBackpressure("news-alerts busy", retry_after=0.0)
        if alert.alert_id in self.failing:
            return DeliveryError(f"alert {alert.alert_id} not delivered", retryable=False)
        self.delivered.append(alert.alert_id)
        return None

    async def flush_due_digests(self) -> list[tuple[DeliveryError, list[Alert]]]:
        failures, self.digest_failures = self.digest_failures, []
        return failures


def test_deliver_alerts_dead_letters_garbage_and_undeliverable_alerts() -> None:
    dispatcher = FakeDispatcher(failing={"dead"}, busy=1)
    harness = Harness(DeliverAlertsStage(dispatcher))
    harness.run(
        b"not json at all",
        dumps(an_alert("dead")),
        dumps(an_alert("ok")),
    )
    assert dispatcher.delivered == ["ok"]
    letters = harness.letters()
    assert [x["stage"] for x in letters] == ["deliver-alerts", "deliver-alerts"]
    assert [x["error_type"] for x in letters] == ["InvalidRecord", "DeliveryError"]
    assert len(harness.slept) == 1


def test_failed_digests_are_dead_lettered_with_every_alert_they_held() -> None:
    producer = FakeProducer()
    dispatcher = FakeDispatcher(
        digest_failures=[(DeliveryError("digest not delivered", retryable=False), [an_alert("x")])]
    )
    asyncio.run(
        send_due_digests(
            dispatcher, DeadLetters(producer), alerts_topic="alerts", dlq_topic="alerts.dlq"
        )
    )
    [letter] = [s.json() for s in producer.on("alerts.dlq")]
    assert letter["source_topic"] == "alerts" and letter["source_offset"] == -1
    assert "digest not delivered" in letter["reason"]


@dataclass
class CountingEnricher(FakeEnricher):
    enriched: list[str] = field(default_factory=list)

    def enrich_batch(
        self, raws: Sequence[RawArticle], *, ingested_at: str
    ) -> list[Enriched | EnrichmentError]:
        self.enriched.extend(r.id for r in raws)
        return super().enrich_batch(raws, ingested_at=ingested_at)


def test_waiting_out_the_fingerprint_store_does_not_enrich_again() -> None:
    enricher = CountingEnricher()
    producer = FakeProducer()
    stage = EnrichStage(
        enricher=enricher,
        fingerprints=FakeFingerprints(busy=2),
        producer=producer,
        output_topic="enriched",
        executor=ThreadPoolExecutor(1),
    )
    harness = Harness(stage, producer=producer)
    harness.run(raw_line("a"), raw_line("b", "other words " * 20))
    assert sorted(s.json()["id"] for s in producer.on("enriched")) == ["a", "b"]
    assert sorted(enricher.enriched) == ["a", "b"]  # once each, despite two retries
    assert stage.retained == {}


def test_an_enriched_article_says_when_its_raw_record_reached_kafka() -> None:
    harness = enrich_harness()
    record = Origin("in", 0, 0, b"k", raw_line("a"), timestamp=1_765_000_000.25)
    asyncio.run(harness.runner.run([record]))
    [article] = [s.json() for s in harness.producer.on("enriched")]
    assert article["received_at"] == "2025-12-06T05:46:40.250Z"
