from __future__ import annotations

import base64
import logging
from pathlib import Path

import orjson
import pytest
from kafka.errors import MessageSizeTooLargeError

from streams.kafka.topics import pipeline_topics
from streams.messages import (
    DEFAULT_MAX_ARTICLE_BYTES,
    dead_letter_from_json,
    kafka_record_bytes,
    parse_raw_article,
)
from streams.producers import to_record
from streams.producers.jsonl import Line, ProduceReport, dead_letter_of, produce, read_lines
from streams.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_valid_line_is_keyed_by_its_stable_id() -> None:
    line = b'{"url": "https://example.com/x?utm_source=rss", "title": "T", "text": "body"}'
    record = to_record(line)
    assert record.error is None
    value = orjson.loads(record.value)
    assert record.key.decode() == value["id"] == parse_raw_article(line).id


def test_invalid_line_is_kept_verbatim_for_the_dlq() -> None:
    line = b'{"title": "no body"}'
    record = to_record(line)
    assert record.value == line
    assert record.error and "text" in record.error


def test_every_committed_sample_is_valid_and_every_malformed_one_is_not() -> None:
    good = [
        to_record(ln) for ln in (SAMPLES / "articles.jsonl").read_bytes().splitlines() if ln.strip()
    ]
    bad = [
        to_record(ln)
        for ln in (SAMPLES / "malformed.jsonl").read_bytes().splitlines()
        if ln.strip()
    ]
    assert good and all(r.error is None for r in good)
    assert len({r.key for r in good}) == len(good)
    assert bad and all(r.error for r in bad)


# --- the size limit: an oversized line is dead-lettered, the others go on --------------

LIMIT = 2_000


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def get(self, timeout: float) -> None:
        if self.error:
            raise self.error


class FakeKafka:
    """kafka-python's KafkaProducer as produce() uses it: the client refuses a record over
    its max_request_size at send(), the broker one over the topic's max.message.bytes."""

    def __init__(self, topic_limits: dict[str, int] | None = None) -> None:
        self.max_request_size = kafka_record_bytes(LIMIT)
        self.topic_limits = topic_limits or {}
        self.records: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, *, key: bytes, value: bytes) -> FakeFuture:
        if len(value) > self.max_request_size:
            raise MessageSizeTooLargeError("larger than max_request_size")
        if len(value) > self.topic_limits.get(topic, self.max_request_size):
            return FakeFuture(MessageSizeTooLargeError("larger than max.message.bytes"))
        self.records.append((topic, key, value))
        return FakeFuture(None)

    def flush(self) -> None:
        pass


def article(n: int, text: str = "body") -> bytes:
    return orjson.dumps({"url": f"https://example.com/{n}", "title": f"T{n}", "text": text})


def test_a_line_over_the_limit_is_refused_with_the_setting_named() -> None:
    line = article(1, "x" * LIMIT)
    record = to_record(line, max_bytes=LIMIT)
    assert not record.fits and record.value == line
    assert record.error == (
        f"article is {len(line):,} bytes; at most {LIMIT:,} are accepted "
        "(NEWSSTREAM_MAX_ARTICLE_BYTES): send the page's text rather than its whole html, "
        "or raise the limit"
    )
    assert to_record(b'{"title": "no body"}', max_bytes=LIMIT).fits  # bad, but the worker's


def test_an_oversized_line_goes_to_the_dlq_and_every_other_line_is_published(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kafka = FakeKafka()
    huge = article(2, "word " * (3 * LIMIT))
    lines = [
        Line("in.jsonl:1", article(1)),
        Line("in.jsonl:2", huge),
        Line("in.jsonl:4", b'{"title": "no body"}'),
        Line("in.jsonl:5", article(3)),
    ]
    with caplog.at_level(logging.WARNING):
        report = produce(
            kafka,  # type: ignore[arg-type]
            "raw",
            lines,
            dlq_topic="dlq",
            max_bytes=LIMIT,
            progress=False,
        )
    assert report == ProduceReport(sent=3, invalid=2, dead_lettered=1, refused=0)
    assert [(topic, orjson.loads(value).get("title")) for topic, _, value in kafka.records] == [
        ("raw", "T1"),
        ("dlq", None),
        ("raw", "no body"),
        ("raw", "T3"),
    ]
    letter = dead_letter_from_json(kafka.records[1][2])
    assert (letter.stage, letter.error_type, letter.source_topic) == (
        "parse",
        "InvalidArticle",
        "raw",
    )
    assert (letter.source_partition, letter.source_offset) == (-1, -1)
    assert letter.original_size == len(huge) and not letter.original_truncated
    assert base64.b64decode(letter.original) == huge
    assert "NEWSSTREAM_MAX_ARTICLE_BYTES" in letter.reason
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert (
        warnings[0].startswith("in.jsonl:2: article is ") and "dead-lettered to dlq" in warnings[0]
    )
    assert warnings[1].startswith("in.jsonl:4: article has neither 'text' nor 'html'")


def test_a_dead_letter_keeps_at_most_512_kib_of_the_line() -> None:
    line = article(1, "x" * (600 * 1024))
    record = to_record(line, max_bytes=LIMIT)
    letter = dead_letter_from_json(dead_letter_of(record, topic="raw", failed_at="t"))
    assert letter.original_truncated and letter.original_size == len(line)
    assert base64.b64decode(letter.original) == line[: 512 * 1024]


def test_a_record_the_topic_refuses_is_named_and_the_rest_still_go_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kafka = FakeKafka(topic_limits={"raw": 500})  # a topic created before the setting
    lines = [Line("a:1", article(1, "x" * 1_000)), Line("a:2", article(2))]
    report = produce(
        kafka,  # type: ignore[arg-type]
        "raw",
        lines,
        dlq_topic="dlq",
        max_bytes=LIMIT,
        progress=False,
    )
    assert report == ProduceReport(sent=1, invalid=0, dead_lettered=0, refused=1)
    assert [orjson.loads(v)["title"] for _, _, v in kafka.records] == ["T2"]
    assert "a:1: Kafka refused the record for raw as too large" in caplog.text
    assert "max.message.bytes" in caplog.text


def test_lines_are_named_by_file_and_line_number_blank_lines_counted(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"a": 1}\n\n  \n{"b": 2}\n')
    assert list(read_lines([path])) == [
        Line(f"{path}:1", b'{"a": 1}'),
        Line(f"{path}:4", b'{"b": 2}'),
    ]


def test_the_topics_take_what_the_producers_send() -> None:
    for limit in (100_000, DEFAULT_MAX_ARTICLE_BYTES, 8 * 1024 * 1024):
        settings = Settings(max_article_bytes=limit)
        expected = kafka_record_bytes(limit)
        assert expected >= limit + 1024  # room for the key and the headers
        configs = {t.name: t.topic_configs for t in pipeline_topics(settings)}
        for name in ("articles.raw", "articles.enriched", "alerts", "articles.dlq", "alerts.dlq"):
            assert configs[name]["max.message.bytes"] == str(expected)
    # never below Kafka's default: a dead letter (512 KiB of original, base64) must fit
    assert kafka_record_bytes(1) > 1_048_576
