"""Publishing a batch's output records, with one outcome per input record.

Records are handed to the client one after another (so their order on a partition is
the input's order), then every delivery is awaited: a stage's batch is acked only once
the broker has all of its output. Kafka errors are classified here, at the edge: a record
Kafka can never take (too large) is that record's fault; anything else is transient.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError

from streams.errors import BrokerUnavailable, RecordRejected

_TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError)


class Producer(Protocol):
    async def send(self, topic: str, *, key: bytes | None, value: bytes) -> Awaitable[Any]:
        """Hand one record to the client; the awaitable completes once the broker has it."""


@dataclass(frozen=True, slots=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes


async def publish(
    producer: Producer, outputs: Sequence[Sequence[Output]]
) -> list[Exception | None]:
    """Publish each input record's outputs; its outcome is None once the broker has them all."""
    outcomes: list[Exception | None] = [None] * len(outputs)
    deliveries: list[list[tuple[Output, Awaitable[Any]]]] = [[] for _ in outputs]
    for i, records in enumerate(outputs):
        for record in records:
            try:
                delivery = await producer.send(record.topic, key=record.key, value=record.value)
                deliveries[i].append((record, delivery))
            except Exception as exc:  # noqa: BLE001 - classified for this record alone
                outcomes[i] = as_broker_error(exc, record)
                break
    for i, pending in enumerate(deliveries):
        for record, delivery in pending:
            try:
                await delivery
            except Exception as exc:  # noqa: BLE001 - classified for this record alone
                outcomes[i] = outcomes[i] or as_broker_error(exc, record)
    return outcomes


def as_broker_error(exc: Exception, record: Output) -> Exception:
    """RecordRejected or BrokerUnavailable for a Kafka error; any other error as it is."""
    kafka_error = _kafka_cause(exc)
    if kafka_error is None:
        return exc
    if isinstance(kafka_error, _TOO_LARGE):
        return RecordRejected(
            f"Kafka refused a {len(record.value):,}-byte record for {record.topic} as too "
            f"large ({kafka_error!r}); the limit follows NEWSSTREAM_MAX_ARTICLE_BYTES "
            "(README 'Size limits'): raise it and the topic's max.message.bytes if such "
            "records are expected"
        )
    return BrokerUnavailable(f"Kafka could not take a record for {record.topic}: {kafka_error!r}")


def _kafka_cause(exc: BaseException | None) -> KafkaError | None:
    """The Kafka error behind ``exc``: Faust wraps the client's errors in its own."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, KafkaError):
            return exc
        exc, seen = exc.__cause__, seen + 1
    return None
