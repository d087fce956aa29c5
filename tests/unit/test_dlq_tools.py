"""Reading dead letters back: decode, select, summarize, plan a replay (no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from streams.errors import EnrichmentError, InvalidArticle, RecordRejected
from streams.kafka import (
    Filters,
    Letter,
    Replay,
    Skip,
    Unreadable,
    decode,
    format_replay,
    format_summary,
    parse_time,
    replay,
    replays_of,
    select,
    short_reason,
    summarize,
)
from streams.messages import alert_from_json, dumps
from streams.worker.dlq import MAX_ORIGINAL_BYTES, dead_letter

ALERT = {
    "alert_id": "a1",
    "rule_id": "tariffs",
    "rule_name": "Tariffs",
    "article_id": "art1",
    "article_title": "T",
    "article_url": None,
    "evidence": ["tariff"],
    "created_at": "2026-01-01T00:00:00.000Z",
    "targets": ["default"],
}


def letter(
    original: bytes = b'{"title": "x"}',
    *,
    error: BaseException | None = None,
    stage: str = "parse",
    topic: str = "articles.raw",
    partition: int = 0,
    offset: int = 7,
    key: bytes | None = b"k1",
    failed_at: str = "2026-01-02T10:00:00.000Z",
) -> Letter:
    dead = dead_letter(
        error=error or InvalidArticle("not valid JSON: unexpected character"),
        stage=stage,
        topic=topic,
        partition=partition,
        offset=offset,
        original=original,
        failed_at=failed_at,
    )
    decoded = decode("articles.dlq", 0, offset, key, dumps(dead))
    assert isinstance(decoded, Letter)
    return decoded


def test_decode_keeps_the_key_and_the_original_bytes() -> None:
    decoded = letter(b"\xff{broken", key=b"id-1")
    assert decoded.key == b"id-1" and decoded.original == b"\xff{broken"
    assert decoded.origin == "articles.raw[0]@7" and decoded.where == "articles.dlq[0]@7"


def test_a_record_that_is_not_a_dead_letter_is_unreadable_not_an_error() -> None:
    assert isinstance(decode("articles.dlq", 1, 3, None, b"\xff not json"), Unreadable)
    assert isinstance(decode("articles.dlq", 1, 4, None, None), Unreadable)
    missing = decode("articles.dlq", 1, 5, None, b'{"reason": "x"}')
    assert isinstance(missing, Unreadable) and "missing required field" in missing.error
    record = orjson.loads(dumps(letter().letter))
    bad_base64 = decode("articles.dlq", 1, 6, None, orjson.dumps({**record, "original": "@@"}))
    assert isinstance(bad_base64, Unreadable) and "base64" in bad_base64.error


def test_filters_by_stage_reason_and_time_window() -> None:
    parse = letter(failed_at="2026-01-02T10:00:00.000Z")
    index = letter(
        error=RecordRejected("mapper_parsing_exception on field 'published_at'"),
        stage="index",
        failed_at="2026-01-03T10:00:00.000Z",
    )
    letters = [parse, index]

    def chosen(filters: Filters) -> list[Letter]:
        return list(select(letters, filters))

    assert chosen(Filters()) == letters
    assert chosen(Filters(stage="index")) == [index]
    assert chosen(Filters(reason="MAPPER_parsing")) == [index]
    assert chosen(Filters(reason="recordrejected")) == [index]  # the error type counts too
    jan3 = datetime(2026, 1, 3, tzinfo=UTC)
    assert chosen(Filters(since=jan3)) == [index]
    assert chosen(Filters(until=jan3)) == [parse]
    assert chosen(Filters(since=parse_time("2026-01-03T10:00:00.000Z"))) == [index]  # inclusive
    assert chosen(Filters(stage="parse", reason="mapper")) == []


def test_parse_time_takes_utc_when_no_zone_is_named() -> None:
    assert parse_time("2026-01-03") == datetime(2026, 1, 3, tzinfo=UTC)
    assert parse_time("2026-01-03T12:00:00+02:00") == datetime(2026, 1, 3, 10, tzinfo=UTC)
    assert parse_time("yesterday") is None


def test_short_reason_is_the_first_line_cut() -> None:
    assert short_reason("boom\nTraceback ...") == "boom"
    long = short_reason("x" * 300, width=20)
    assert len(long) == 20 and long.endswith("…")
    assert short_reason("") == "(no reason)"


def test_summary_counts_selected_letters_by_stage_and_reason() -> None:
    bug = EnrichmentError("language detection failed")
    items: list[Letter | Unreadable] = [
        letter(offset=1),
        letter(offset=2),
        letter(error=bug, stage="enrich", offset=3),
        Unreadable("articles.dlq[0]@4", "not valid JSON"),
        letter(error=bug, stage="index", offset=5),
    ]
    summary = summarize(items, Filters(stage="enrich"), samples=5)
    assert (summary.letters, summary.selected, summary.unreadable) == (4, 1, 1)
    summary = summarize(items, Filters(), samples=2)
    assert summary.by_stage == {"parse": 2, "enrich": 1, "index": 1}
    assert summary.by_reason == {
        "not valid JSON: unexpected character": 2,
        "language detection failed": 2,
    }
    assert [s.letter.source_offset for s in summary.samples] == [1, 2]
    text = "\n".join(format_summary(summary, ["articles.dlq"]))
    assert "4 dead letters, 4 selected, 1 unreadable" in text
    assert "      2  parse" in text and "articles.dlq[0]@4: not valid JSON" in text
    assert 'original: {"title": "x"}' in text


def test_replay_is_the_original_bytes_and_key_to_the_source_topic() -> None:
    failed = letter(b"\xff raw bytes", key=b"k9", topic="articles.enriched", stage="index")
    assert replays_of(failed) == [Replay("articles.enriched", b"k9", b"\xff raw bytes")]


def test_a_truncated_original_is_not_replayed() -> None:
    assert replays_of(letter(b"x" * (MAX_ORIGINAL_BYTES + 1))) is Skip.TRUNCATED


def test_a_digest_is_replayed_as_one_keyed_record_per_alert() -> None:
    second = {**ALERT, "alert_id": "a2"}
    digest = letter(
        orjson.dumps([ALERT, second]), topic="alerts", partition=-1, offset=-1, key=None
    )
    records = replays_of(digest)
    assert isinstance(records, list)
    assert [(r.topic, r.key) for r in records] == [("alerts", b"a1"), ("alerts", b"a2")]
    assert alert_from_json(records[0].value) == alert_from_json(orjson.dumps(ALERT))
    broken = letter(b'[{"alert_id": 1}]', topic="alerts", partition=-1, key=None)
    assert replays_of(broken) is Skip.BAD_DIGEST


def test_replay_publishes_the_selected_letters_and_counts_the_rest() -> None:
    digest = letter(
        orjson.dumps([ALERT]),
        stage="deliver-alerts",
        topic="alerts",
        partition=-1,
        offset=-1,
        key=None,
    )
    items: list[Letter | Unreadable] = [
        letter(b"one", offset=1),
        letter(b"x" * (MAX_ORIGINAL_BYTES + 1), offset=2),
        Unreadable("articles.dlq[0]@3", "not valid JSON"),
        letter(b"two", stage="index", topic="articles.enriched", offset=4),
        digest,
    ]
    sent: list[Replay] = []
    report = replay(items, Filters(), publish=sent.append)
    assert [r.value for r in sent] == [b"one", b"two", dumps(alert_from_json(ALERT))]
    assert report.published == {"articles.raw": 1, "articles.enriched": 1, "alerts": 1}
    assert report.skipped == {Skip.TRUNCATED: 1}
    assert (report.letters, report.unreadable, report.digests, report.alerts) == (4, 1, 1, 1)
    text = "\n".join(format_replay(report, dry_run=False))
    assert "published 1 record to articles.raw" in text and "skipped 1: original truncated" in text
    assert "news-alerts" in text  # replayed alerts: the operator is told about the dedup

    dry = replay(items, Filters(stage="parse"), publish=None)
    assert dry.published == {"articles.raw": 1} and dry.skipped == {Skip.TRUNCATED: 1}
    assert "would publish 1 record " in "\n".join(format_replay(dry, dry_run=True))
