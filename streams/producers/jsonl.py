"""Publish raw articles from JSON Lines files with kafka-python.

Every non-blank line is published, valid or not: a malformed line reaches the worker,
which dead-letters it with the reason, so nothing is dropped silently on the way in.
Valid articles get their stable ``id`` added and are keyed by it, so all versions of one
article land on one partition in order.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError
from tqdm import tqdm

from streams.errors import InvalidArticle, StackError

# Not through streams.kafka: its dlq tools publish with this module's producer.
from streams.kafka.connection import KafkaConnection, diagnose
from streams.messages import dumps, parse_raw_article
from streams.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes
    value: bytes
    error: str | None  # why the worker will dead-letter it, if we already know


@dataclass(frozen=True, slots=True)
class ProduceReport:
    sent: int
    invalid: int


def to_record(line: bytes) -> Record:
    """Key and value for one input line (pure: no I/O)."""
    try:
        raw = parse_raw_article(line)
    except InvalidArticle as exc:
        return Record(
            key=hashlib.sha256(line).hexdigest()[:32].encode(), value=line, error=str(exc)
        )
    record = orjson.loads(line)
    record["id"] = raw.id
    return Record(key=raw.id.encode(), value=dumps(record), error=None)


def read_lines(paths: Iterable[Path | str]) -> Iterator[bytes]:
    for path in paths:
        stream: IO[bytes]
        with sys.stdin.buffer if str(path) == "-" else Path(path).open("rb") as stream:
            for line in stream:
                if line.strip():
                    yield line.strip()


def make_producer(settings: Settings) -> KafkaProducer:
    connection = KafkaConnection.from_settings(settings)
    try:
        return KafkaProducer(
            **connection.kafka_python(),
            acks="all",
            linger_ms=20,
            compression_type="gzip",
            retries=5,
            client_id="newsstream-produce",
        )
    except KafkaError as exc:
        raise StackError(diagnose(connection)) from exc


def produce(
    producer: KafkaProducer, topic: str, lines: Iterable[bytes], *, progress: bool = True
) -> ProduceReport:
    sent = invalid = 0
    futures = []
    for line in tqdm(lines, unit=" articles", disable=not progress, file=sys.stderr):
        record = to_record(line)
        if record.error:
            invalid += 1
            log.warning(
                "publishing an invalid record; the worker will dead-letter it: %s", record.error
            )
        futures.append(producer.send(topic, key=record.key, value=record.value))
        sent += 1
    producer.flush()
    for future in futures:
        try:
            future.get(timeout=30)
        except KafkaError as exc:
            raise StackError(f"Kafka did not accept a record for {topic}: {exc}") from exc
    return ProduceReport(sent=sent, invalid=invalid)
