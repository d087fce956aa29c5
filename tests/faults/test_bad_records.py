"""Bad records on every topic the worker reads: each one enriched within a bound or
dead-lettered with its reason and original bytes, and the good records after it keep
flowing. One worker for the module: a bad record must not need a restart.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from kafka.errors import KafkaError

from streams.devtools import WebhookReceiver
from streams.messages import enriched_from_json
from tests.integration.conftest import wait_until
from tests.integration.kafka_servers import KafkaNode

from .conftest import (
    ALERT_SENTENCE,
    VOCABULARY,
    Pipeline,
    make_articles,
    new_pipeline,
    original_of,
    percentile,
    producer_for,
)
from .servers import ElasticsearchNode

pytestmark = pytest.mark.faults

MiB = 1024 * 1024
# Bad records of scenario 5 have this long to be enriched or dead-lettered.
OUTCOME_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def bad(
    tmp_path_factory: pytest.TempPathFactory,
    fault_kafka: KafkaNode,
    fault_elasticsearch: ElasticsearchNode,
) -> Iterator[Pipeline]:
    receiver = WebhookReceiver().start()
    directory = tmp_path_factory.mktemp("bad-records")
    p = new_pipeline(directory, fault_kafka, fault_elasticsearch, receiver)
    p.start_worker()
    yield p
    p.stop()
    receiver.stop()


@dataclass(frozen=True)
class Sent:
    """Where a record landed, or why Kafka refused it."""

    name: str
    value: bytes | None
    partition: int = -1
    offset: int = -1
    refused: str = ""
    sent_at: float = 0.0


def send_each(p: Pipeline, topic: str, records: Sequence[tuple[str, bytes | None]]) -> list[Sent]:
    """Publish one record at a time (a refused one must not take batch mates with it),
    gzip-compressed and with a client limit far above any topic's: what the broker
    refuses is its own verdict."""
    producer = producer_for(p.settings, compression_type="gzip", max_request_size=32 * MiB)
    sent = []
    try:
        for name, value in records:
            try:
                meta = producer.send(topic, key=name.encode(), value=value).get(timeout=60)
            except KafkaError as exc:
                sent.append(Sent(name, value, refused=f"{type(exc).__name__}: {exc}"))
                continue
            sent.append(Sent(name, value, meta.partition, meta.offset, sent_at=time.monotonic()))
    finally:
        producer.close()
    return sent


def letters_by_origin(
    p: Pipeline, topic: str, source_topic: str
) -> dict[tuple[int, int], list[Any]]:
    found: dict[tuple[int, int], list[Any]] = {}
    for letter in p.dead_letters(topic):
        if letter["source_topic"] == source_topic:
            origin = (letter["source_partition"], letter["source_offset"])
            found.setdefault(origin, []).append(letter)
    return found


def enriched_doc(article_id: str, *, body: str, **fields: Any) -> dict[str, Any]:
    doc = {
        "id": article_id,
        "url": f"https://faults.example.org/enriched/{article_id}",
        "title": f"Enriched by hand {article_id}",
        "body": body,
        "language": "en",
        "source": "fault-suite",
        "published_at": "2026-12-01T10:00:00Z",
        "ingested_at": "2026-12-06T10:00:00.000Z",
        "entities": [],
        "categories": [],
        "topics": [],
        "keywords": [],
        **fields,
    }
    enriched_from_json(orjson.dumps(doc))  # valid for the worker: only Elasticsearch may refuse
    return doc


# --------------------------------------------------------------------------- scenario 4


def test_a_document_elasticsearch_refuses_is_dead_lettered_and_its_batch_mates_indexed(
    bad: Pipeline, report: Any
) -> None:
    run = uuid.uuid4().hex[:8]
    good = [enriched_doc(f"{run}-good-{i}", body=f"Plain news number {i}.") for i in range(10)]
    # A string for a date field: the worker's schema allows it, the index template not.
    refused = enriched_doc(f"{run}-refused", body="A date that is no date.", published_at="soon")
    records = [(d["id"], orjson.dumps(d)) for d in [*good[:5], refused, *good[5:]]]
    sent = send_each(bad, bad.settings.topic_enriched, records)
    found = bad.wait_searchable([d["id"] for d in good], timeout=120)
    [origin] = [(s.partition, s.offset) for s in sent if s.name == refused["id"]]
    letters = wait_until(
        lambda: letters_by_origin(bad, bad.settings.topic_dlq, bad.settings.topic_enriched).get(
            origin
        ),
        timeout=120,
        what="the refused document's dead letter",
    )
    report(
        produced=len(records),
        searchable=len([i for i in found if i.startswith(run)]),
        dead_lettered=len(letters),
        reason=letters[0]["reason"][:160],
    )
    [letter] = letters
    assert letter["stage"] == "index" and letter["error_type"] == "RecordRejected"
    assert "published_at" in letter["reason"], letter["reason"]
    assert original_of(letter) == orjson.dumps(refused)
    assert refused["id"] not in found


# --------------------------------------------------------------------------- scenario 5


def words(rng: random.Random, size: int) -> str:
    """Random real words, about ``size`` bytes: text that compresses like prose."""
    parts, total = [], 0
    while total < size:
        word = rng.choice(VOCABULARY)
        parts.append(word)
        total += len(word) + 1
    return " ".join(parts)


def raw(article_id: str, **fields: Any) -> bytes:
    return orjson.dumps({"id": article_id, "title": f"Bad input {article_id}", **fields})


def bad_raw_inputs(run: str) -> tuple[list[tuple[str, bytes | None]], set[str], set[str]]:
    """(name, value) pairs; the names that must be dead-lettered and those that must be
    enriched (the rest may go either way, within the bound)."""
    rng = random.Random(run)
    nested = "<div>" * 10_000 + "<p>Deep inside ten thousand divs.</p>" + "</div>" * 10_000
    inputs: list[tuple[str, bytes | None]] = [
        ("invalid-json", b'{"title": "broken", "text": "no closing brace"'),
        ("json-array", b'[{"title": "in an array", "text": "some text"}]'),
        ("wrong-types", b'{"title": 42, "text": ["not", "a", "string"]}'),
        ("no-text-no-html", b'{"title": "no body", "url": "https://faults.example.org/x"}'),
        ("empty-text", b'{"title": "empty", "text": ""}'),
        ("binary-garbage", rng.randbytes(4096)),
        ("invalid-utf8", b'{"title": "bad bytes", "text": "caf\xe9 \xff\xfe"}'),
        ("nul-bytes-raw", b'\x00\x00{"title": "nul", "text": "x"}\x00'),
        ("null-value", None),
        ("empty-value", b""),
        (f"{run}-nul-escaped", raw(f"{run}-nul-escaped", text="before\x00after, in JSON.")),
        (f"{run}-nested-divs", raw(f"{run}-nested-divs", html=nested)),
        (
            f"{run}-rtl",
            raw(
                f"{run}-rtl",
                text="أعلنت الحكومة اليوم عن خطة جديدة. הממשלה הודיעה היום על תוכנית חדשה.",
            ),
        ),
        (
            f"{run}-cjk",
            raw(
                f"{run}-cjk", text="政府今天宣布了新的经济计划。東京で新しい政策が発表されました。"
            ),
        ),
        (
            f"{run}-huge-url",
            raw(
                f"{run}-huge-url",
                url="https://faults.example.org/" + "a" * 100_000,
                text="Long url.",
            ),
        ),
        (f"{run}-word-repeated", raw(f"{run}-word-repeated", text="news " * 1_000_000)),
        (f"{run}-ten-mb", raw(f"{run}-ten-mb", text=words(rng, 10 * MiB))),
    ]
    must_fail = {name for name, _ in inputs[:10]}
    must_enrich = {f"{run}-rtl", f"{run}-cjk"}
    return inputs, must_fail, must_enrich


@pytest.mark.timeout(600)
def test_bad_raw_inputs_are_enriched_or_dead_lettered_and_good_ones_keep_flowing(
    bad: Pipeline, report: Any
) -> None:
    run = uuid.uuid4().hex[:8]
    inputs, must_fail, must_enrich = bad_raw_inputs(run)
    sent = send_each(bad, bad.settings.topic_raw, inputs)
    good = make_articles(f"{run}-good", 20, alert_every=1_000)
    good_sent = send_each(bad, bad.settings.topic_raw, [(a["id"], orjson.dumps(a)) for a in good])

    outcomes: dict[str, str] = {
        s.name: f"refused by Kafka ({s.refused})" for s in sent if s.refused
    }
    seen_at: dict[str, float] = {}
    deadline = time.monotonic() + OUTCOME_TIMEOUT
    polls = 0
    while time.monotonic() < deadline:
        now, ids = time.monotonic(), set(bad.searchable_ids())
        for s in [*sent, *good_sent]:
            if s.name in ids:
                seen_at.setdefault(s.name, now)
        if polls % 10 == 0:
            letters = letters_by_origin(bad, bad.settings.topic_dlq, bad.settings.topic_raw)
            for s in sent:
                for letter in letters.get((s.partition, s.offset), []):
                    assert letter["reason"].strip(), f"{s.name}: a dead letter without a reason"
                    reason = letter["reason"].strip().splitlines()[0][:100]
                    outcomes[s.name] = f"dead-lettered at {letter['stage']}: {reason}"
                    size = letter["original_size"]
                    assert original_of(letter) == (s.value or b"")[: len(original_of(letter))]
                    assert size == len(s.value or b""), f"{s.name}: original size {size}"
        for s in sent:
            if s.name in seen_at:
                outcomes.setdefault(s.name, f"enriched in {seen_at[s.name] - s.sent_at:.1f}s")
        good_done = all(s.name in seen_at for s in good_sent)
        if good_done and all(s.name in outcomes for s in sent):
            break
        polls += 1
        time.sleep(0.5)

    latencies = [seen_at[s.name] - s.sent_at for s in good_sent if s.name in seen_at]
    report(
        produced=len(inputs) + len(good),
        refused_by_kafka=sum(1 for s in sent if s.refused),
        dead_lettered=sum(1 for o in outcomes.values() if o.startswith("dead")),
        enriched=sum(1 for o in outcomes.values() if o.startswith("enriched")),
        good_searchable=len(latencies),
        good_latency_p50_s=percentile(latencies, 0.5),
        good_latency_max_s=max(latencies, default=0.0),
        outcomes={name.removeprefix(f"{run}-"): o for name, o in outcomes.items()},
    )
    unsettled = [s.name for s in sent if s.name not in outcomes]
    assert not unsettled, (
        f"neither enriched nor dead-lettered in {OUTCOME_TIMEOUT:.0f}s: {unsettled}"
    )
    for name in must_fail:
        assert outcomes[name].startswith("dead-lettered at parse"), f"{name}: {outcomes[name]}"
    for name in must_enrich:
        assert outcomes[name].startswith("enriched"), f"{name}: {outcomes[name]}"
    over_a_mebibyte = {name for name, value in inputs if len(value or b"") > MiB}
    refused = {s.name for s in sent if s.refused}
    assert refused <= over_a_mebibyte, f"Kafka refused a small record: {refused}"
    assert len(latencies) == len(good), "good articles after the bad ones must flow"


# --------------------------------------------------------------------------- scenario 6

GARBAGE: list[tuple[str, bytes | None]] = [
    ("invalid-json", b"{not json"),
    ("json-array", b"[1, 2, 3]"),
    ("wrong-types", b'{"id": 5, "title": ["x"]}'),
    ("binary", b"\xff\xfe\x00\x01garbage"),
    ("null-value", None),
    ("empty-value", b""),
]


def alert_record(alert_id: str, article_id: str) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "rule_id": "fault-tariffs",
        "rule_name": "Tariff news (fault suite)",
        "article_id": article_id,
        "article_title": "After the garbage",
        "article_url": None,
        "evidence": [],
        "created_at": "2026-12-06T00:00:00.000Z",
        "targets": ["default"],
    }


@pytest.mark.timeout(300)
def test_garbage_on_the_enriched_and_alerts_topics_is_dead_lettered_and_alerts_still_arrive(
    bad: Pipeline, report: Any
) -> None:
    run = uuid.uuid4().hex[:8]
    settings = bad.settings
    after = enriched_doc(f"{run}-after", body=f"After the garbage. {ALERT_SENTENCE}")
    on_enriched = send_each(
        bad, settings.topic_enriched, [*GARBAGE, (after["id"], orjson.dumps(after))]
    )
    alert_id = f"{run}-direct-alert"
    on_alerts = send_each(
        bad,
        settings.topic_alerts,
        [*GARBAGE, (alert_id, orjson.dumps(alert_record(alert_id, f"{run}-elsewhere")))],
    )
    bad.wait_searchable([after["id"]], timeout=120)
    wait_until(
        lambda: (
            alert_id in bad.receiver.alert_ids()
            and after["id"] in {r.json()["article"]["id"] for r in bad.receiver.received}
        ),
        timeout=120,
        what="the direct alert and the enriched article's alert to be delivered",
    )

    def lettered(
        topic: str, source: str, sent: list[Sent], per_record: int
    ) -> dict[str, list[str]]:
        letters = letters_by_origin(bad, topic, source)
        stages = {
            s.name: sorted(x["stage"] for x in letters.get((s.partition, s.offset), []))
            for s in sent[:-1]
        }
        return stages if all(len(v) == per_record for v in stages.values()) else {}

    enriched_letters = wait_until(
        lambda: lettered(settings.topic_dlq, settings.topic_enriched, on_enriched, 2),
        timeout=120,
        what="two dead letters (index, match-alerts) per garbage record on the enriched topic",
    )
    alert_letters = wait_until(
        lambda: lettered(settings.topic_alerts_dlq, settings.topic_alerts, on_alerts, 1),
        timeout=120,
        what="a dead letter per garbage record on the alerts topic",
    )
    received = bad.receiver.alert_ids()
    report(
        produced=len(on_enriched) + len(on_alerts),
        dead_lettered=sum(len(v) for v in enriched_letters.values())
        + sum(len(v) for v in alert_letters.values()),
        webhook_requests=len(received),
        duplicated=len(received) - len(set(received)),
    )
    assert all(v == ["index", "match-alerts"] for v in enriched_letters.values()), enriched_letters
    assert all(v == ["deliver-alerts"] for v in alert_letters.values()), alert_letters
    assert received.count(alert_id) == 1
