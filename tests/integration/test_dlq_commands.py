"""`newsstream dlq inspect` and `newsstream dlq replay` against the real Kafka.

Dead letters are written straight to DLQ topics of their own (no worker runs), then the
commands run as subprocesses; what the replay published is read back from the source
topics.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import orjson
import pytest
from kafka import KafkaProducer

from streams.errors import InvalidArticle, RecordRejected
from streams.messages import dumps
from streams.settings import Settings
from streams.setup import remove_everything
from streams.worker.dlq import MAX_ORIGINAL_BYTES, dead_letter

from .conftest import ROOT, consume_all, isolated_settings

pytestmark = pytest.mark.integration

JAN1, JAN5, JAN6 = "2026-01-01T00:00:00.000Z", "2026-01-05T00:00:00.000Z", "2026-01-06T00:00:00Z"

FIXED = b'{"url": "https://example.com/fixed", "title": "Fixed", "text": "Now it parses."}'
OLD = b'{"url": "https://example.com/old", "title": "Old", "text": "Replayed last week."}'
ALERTS = [
    {
        "alert_id": alert_id,
        "rule_id": "tariffs",
        "rule_name": "Tariff news",
        "article_id": f"article-{alert_id}",
        "article_title": "Tariffs up",
        "article_url": None,
        "evidence": ["tariff"],
        "created_at": "2026-01-05T00:00:00.000Z",
        "targets": ["default"],
    }
    for alert_id in ("alert-1", "alert-2")
]


def letter_bytes(
    original: bytes, *, stage: str, topic: str, failed_at: str, error: Exception, partition: int = 0
) -> bytes:
    return dumps(
        dead_letter(
            error=error,
            stage=stage,
            topic=topic,
            partition=partition,
            offset=partition,
            original=original,
            failed_at=failed_at,
        )
    )


@pytest.fixture(scope="module")
def dlq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = isolated_settings(tmp_path_factory.mktemp("dlq"))
    bad = InvalidArticle("field 'text' must be a string")
    raw, enriched = settings.topic_raw, settings.topic_enriched
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        for key, value in [
            (b"k-fixed", letter_bytes(FIXED, stage="parse", topic=raw, failed_at=JAN5, error=bad)),
            (b"k-old", letter_bytes(OLD, stage="parse", topic=raw, failed_at=JAN1, error=bad)),
            (
                b"k-huge",
                letter_bytes(
                    b"x" * (MAX_ORIGINAL_BYTES + 1),
                    stage="parse",
                    topic=raw,
                    failed_at=JAN6,
                    error=bad,
                ),
            ),
            (
                b"k-index",
                letter_bytes(
                    b"enriched bytes",
                    stage="index",
                    topic=enriched,
                    failed_at=JAN5,
                    error=RecordRejected("mapper_parsing_exception"),
                ),
            ),
            (None, b"\xff this is not a dead letter"),
        ]:
            producer.send(settings.topic_dlq, key=key, value=value)
        digest = letter_bytes(
            orjson.dumps(ALERTS),
            stage="deliver-alerts",
            topic=settings.topic_alerts,
            failed_at=JAN5,
            error=RuntimeError("receiver down"),
            partition=-1,
        )
        producer.send(settings.topic_alerts_dlq, key=None, value=digest)
        producer.flush()
    finally:
        producer.close()
    yield settings
    remove_everything(settings)


def run_dlq(settings: Settings, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "dlq", *args],
        cwd=ROOT,
        env={**os.environ, **settings.as_env()},
        capture_output=True,
        check=False,
        timeout=120,
    )


def newsstream(settings: Settings, *args: str) -> str:
    done = run_dlq(settings, *args)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def test_inspect_counts_by_stage_and_reason(dlq: Settings) -> None:
    out = newsstream(dlq, "inspect", "--samples", "2")
    assert "5 dead letters, 5 selected, 1 unreadable" in out
    assert "      3  parse" in out and "      1  index" in out and "      1  deliver-alerts" in out
    assert "      3  field 'text' must be a string" in out
    assert "unexpected RuntimeError (a bug: please report it): receiver down" in out
    assert out.count(" failed 2026-") == 2  # two samples
    assert f"{dlq.topic_dlq}[" in out and "not valid JSON" in out  # the unreadable record

    only_index = newsstream(dlq, "inspect", "--stage", "index", "--topic", dlq.topic_dlq)
    assert "4 dead letters, 1 selected, 1 unreadable" in only_index
    assert "mapper_parsing_exception" in only_index and "enriched bytes" in only_index


def test_replay_publishes_exactly_the_selected_originals(dlq: Settings) -> None:
    dry = newsstream(dlq, "replay", "--dry-run", "--no-progress")
    assert f"would publish 2 records to {dlq.topic_raw}" in dry
    assert f"would publish 2 records to {dlq.topic_alerts}" in dry
    assert "skipped 1: original truncated" in dry

    selected = ["--stage", "parse", "--reason", "TEXT", "--since", "2026-01-03"]
    out = newsstream(dlq, "replay", "--no-progress", "--topic", dlq.topic_dlq, *selected)
    assert "2 dead letters selected" in out  # the fixed one and the truncated one
    assert f"published 1 record to {dlq.topic_raw}" in out
    assert "skipped 1: original truncated" in out

    out = newsstream(dlq, "replay", "--no-progress", "--topic", dlq.topic_alerts_dlq)
    assert f"published 2 records to {dlq.topic_alerts}" in out and "news-alerts" in out

    [article] = consume_all(dlq, dlq.topic_raw, expect=2, timeout=5)
    assert (article.key, article.value) == (b"k-fixed", FIXED)
    alerts = consume_all(dlq, dlq.topic_alerts, expect=3, timeout=5)
    assert sorted(a.key for a in alerts) == [b"alert-1", b"alert-2"]
    assert sorted(orjson.loads(a.value)["alert_id"] for a in alerts) == ["alert-1", "alert-2"]
    assert consume_all(dlq, dlq.topic_enriched, expect=1, timeout=3) == []


def test_a_missing_topic_is_a_clear_error(dlq: Settings) -> None:
    done = run_dlq(dlq, "inspect", "--topic", "no-such-dlq")
    assert done.returncode == 1 and b"'no-such-dlq' does not exist" in done.stderr
