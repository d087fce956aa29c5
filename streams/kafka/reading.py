"""Reading a topic back from its beginning to where it ends now (no group, no commits).

The DLQ tools and the feed poller's state both need "every record so far, then stop":
the end offsets are read once at the start, so records written meanwhile are left for
the next reader and the read always finishes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from streams.errors import StackError
from streams.kafka.connection import KafkaConnection, diagnose


def read_to_end(
    connection: KafkaConnection,
    topics: Sequence[str],
    *,
    client_id: str,
    idle_timeout: float = 30.0,
) -> Iterator[ConsumerRecord]:
    """Every record of ``topics`` up to the end offsets read at the start.

    Raises StackError when Kafka cannot be reached, a topic does not exist, or no record
    comes for ``idle_timeout`` seconds before the end.
    """
    try:
        consumer = KafkaConsumer(
            **connection.kafka_python(),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=client_id,
        )
    except KafkaError as exc:
        raise StackError(diagnose(connection)) from exc
    try:
        yield from _records(consumer, topics, idle_timeout)
    except KafkaError as exc:
        raise StackError(f"could not read {', '.join(topics)}: {exc}") from exc
    finally:
        consumer.close()


def _records(consumer: Any, topics: Sequence[str], idle_timeout: float) -> Iterator[ConsumerRecord]:
    partitions = [
        TopicPartition(topic, p) for topic in topics for p in _partitions(consumer, topic)
    ]
    consumer.assign(partitions)
    ends = consumer.end_offsets(partitions)
    consumer.seek_to_beginning(*partitions)
    pending = {tp for tp in partitions if consumer.position(tp) < ends[tp]}
    deadline = time.monotonic() + idle_timeout
    while pending:
        batch = consumer.poll(timeout_ms=500)
        for tp, records in batch.items():
            yield from (r for r in records if r.offset < ends[tp])
        if batch:
            deadline = time.monotonic() + idle_timeout
        done = {tp for tp in pending if consumer.position(tp) >= ends[tp]}
        consumer.pause(*done)
        pending -= done
        if pending and time.monotonic() > deadline:
            raise StackError(
                f"no record from {', '.join(sorted(map(str, pending)))} for {idle_timeout:.0f} s "
                "before the end offsets read at the start; is Kafka healthy?"
            )


def _partitions(consumer: Any, topic: str) -> list[int]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise StackError(f"topic {topic!r} does not exist; run `newsstream setup` or check --topic")
    return sorted(partitions)
