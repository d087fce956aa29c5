"""Publish raw articles from JSON Lines files with kafka-python.

Every non-blank line is published, valid or not: a malformed line reaches the worker,
which dead-letters it with the reason, so nothing is dropped silently on the way in.
A line over ``NEWSSTREAM_MAX_ARTICLE_BYTES`` cannot go on ``articles.raw`` (the topic
would refuse it): its dead letter (stage ``parse``, the first 512 KiB of the line) goes
straight to the DLQ topic instead, where the worker would have put it. Either way each
bad line gets one warning naming its file and line, and the other lines go on.
Valid articles get their stable ``id`` added and are keyed by it, so all versions of one
article land on one partition in order.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError
from tqdm import tqdm

from streams.clock import utc_now
from streams.errors import InvalidArticle, StackError

# Not through streams.kafka: its dlq tools publish with this module's producer.
from streams.kafka.connection import KafkaConnection, diagnose
from streams.messages import DEFAULT_MAX_ARTICLE_BYTES, DeadLetter, dumps, parse_raw_article
from streams.messages.limits import DEAD_LETTER_ORIGINAL_BYTES, kafka_record_bytes
from streams.settings import Settings

log = logging.getLogger(__name__)

_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)
# A letter for a line that never reached its topic has no partition or offset.
NOT_ON_THE_TOPIC = -1


@dataclass(frozen=True, slots=True)
class Line:
    """One non-blank input line and where it came from, for the operator's messages."""

    where: str  # "articles.jsonl:12", "<stdin>:3"
    data: bytes


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes
    value: bytes
    error: str | None  # why the worker will dead-letter it, if we already know
    fits: bool = True  # False: over the size limit, so its dead letter goes to the DLQ


@dataclass(frozen=True, slots=True)
class ProduceReport:
    sent: int  # records the topic acknowledged
    invalid: int  # bad lines: on the topic for the worker to dead-letter, or dead-lettered here
    dead_lettered: int = 0  # too large: their dead letters the DLQ topic acknowledged
    refused: int = 0  # Kafka refused them as too large (a topic's max.message.bytes is lower)


def to_record(line: bytes, *, max_bytes: int = DEFAULT_MAX_ARTICLE_BYTES) -> Record:
    """Key and value for one input line (pure: no I/O)."""
    try:
        raw = parse_raw_article(line, max_bytes=max_bytes)
    except InvalidArticle as exc:
        key = hashlib.sha256(line).hexdigest()[:32].encode()
        return Record(key=key, value=line, error=str(exc), fits=len(line) <= max_bytes)
    record = orjson.loads(line)
    record["id"] = raw.id
    return Record(key=raw.id.encode(), value=dumps(record), error=None)


def dead_letter_of(record: Record, *, topic: str, failed_at: str) -> bytes:
    """The dead letter of a line that cannot go on ``topic``, as the worker would write it
    at its parse stage (pure: no I/O)."""
    kept = record.value[:DEAD_LETTER_ORIGINAL_BYTES]
    letter = DeadLetter(
        reason=record.error or "article too large",
        error_type=InvalidArticle.__name__,
        stage="parse",
        source_topic=topic,
        source_partition=NOT_ON_THE_TOPIC,
        source_offset=NOT_ON_THE_TOPIC,
        original=base64.b64encode(kept).decode("ascii"),
        failed_at=failed_at,
        original_truncated=len(kept) < len(record.value),
        original_size=len(record.value),
    )
    return dumps(letter)


def read_lines(paths: Iterable[Path | str]) -> Iterator[Line]:
    for path in paths:
        name = "<stdin>" if str(path) == "-" else str(path)
        stream: IO[bytes]
        with sys.stdin.buffer if str(path) == "-" else Path(path).open("rb") as stream:
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    yield Line(f"{name}:{number}", line.strip())


def make_producer(settings: Settings) -> KafkaProducer:
    connection = KafkaConnection.from_settings(settings)
    try:
        return KafkaProducer(
            **connection.kafka_python(),
            acks="all",
            linger_ms=20,
            compression_type="gzip",
            retries=5,
            # The topics' max.message.bytes (README "Size limits"): the same number.
            max_request_size=kafka_record_bytes(settings.max_article_bytes),
            client_id="newsstream-produce",
        )
    except KafkaError as exc:
        raise StackError(diagnose(connection)) from exc


def produce(
    producer: KafkaProducer,
    topic: str,
    lines: Iterable[Line],
    *,
    dlq_topic: str,
    max_bytes: int = DEFAULT_MAX_ARTICLE_BYTES,
    progress: bool = True,
) -> ProduceReport:
    """Publish every line; a line Kafka refuses as too large is counted and named, the
    rest go on. StackError when Kafka fails otherwise (unreachable, no acknowledgement)."""
    invalid = refused = 0
    pending: list[tuple[Line, str, Any]] = []
    for line in tqdm(lines, unit=" articles", disable=not progress, file=sys.stderr):
        record = to_record(line.data, max_bytes=max_bytes)
        target, value = topic, record.value
        if not record.fits:
            target, value = dlq_topic, dead_letter_of(record, topic=topic, failed_at=utc_now())
        if record.error:
            invalid += 1
            fate = f"dead-lettered to {target}" if target == dlq_topic else "for the worker's DLQ"
            log.warning("%s: %s (%s)", line.where, record.error, fate)
        try:
            pending.append((line, target, producer.send(target, key=record.key, value=value)))
        except _TOO_LARGE as exc:
            refused += 1
            log.error("%s: %s", line.where, refusal(target, exc))
        except KafkaError as exc:
            raise StackError(f"Kafka did not take a record for {target}: {exc}") from exc
    producer.flush()
    acknowledged: Counter[str] = Counter()
    for line, target, future in pending:
        try:
            future.get(timeout=30)
        except _TOO_LARGE as exc:
            refused += 1
            log.error("%s: %s", line.where, refusal(target, exc))
            continue
        except KafkaError as exc:
            raise StackError(f"Kafka did not accept a record for {target}: {exc}") from exc
        acknowledged[target] += 1
    return ProduceReport(
        sent=acknowledged[topic],
        invalid=invalid,
        dead_lettered=acknowledged[dlq_topic],
        refused=refused,
    )


def refusal(topic: str, exc: Exception) -> str:
    return (
        f"Kafka refused the record for {topic} as too large ({exc!r}): the topic's "
        "max.message.bytes is below what NEWSSTREAM_MAX_ARTICLE_BYTES allows; "
        "`newsstream setup` sets it on the topics it creates, older topics need "
        "`kafka-configs --alter --add-config max.message.bytes=...`"
    )
