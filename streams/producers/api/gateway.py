"""The API's one Kafka producer: connected in the background, probed, and bounded in time.

``KafkaGateway`` keeps an aiokafka ``AIOKafkaProducer`` (acks=all, the settings'
TLS/SASL options through ``KafkaConnection.aiokafka()``) connected: when Kafka does not
answer at start or later, it tries again with backoff (0.5 s doubling to 5 s) while the
API keeps serving and answers 503. ``publish`` hands a request's records to the producer
in order and returns once the broker acknowledged every one of them; it raises
BrokerUnavailable when that takes longer than ``send_timeout`` or Kafka fails, and
RecordRejected when Kafka refuses a record as too large.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    UnknownTopicOrPartitionError,
)

from streams.errors import BrokerUnavailable, RecordRejected
from streams.kafka.connection import KafkaConnection, diagnose
from streams.messages import DEFAULT_MAX_ARTICLE_BYTES, kafka_record_bytes
from streams.producers.api.intake import Record
from streams.retry import RetryPolicy

log = logging.getLogger(__name__)

SEND_TIMEOUT = 5.0  # seconds for one request's records, from the first send to the last ack
PROBE_SECONDS = 5.0
RECONNECT = RetryPolicy(base_delay=0.5, max_delay=5.0)
RETRY_AFTER = 5  # what a 503 asks the client to wait (the longest reconnect delay)
MAX_REQUEST_SIZE = kafka_record_bytes(DEFAULT_MAX_ARTICLE_BYTES)  # README "Size limits"
_TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError)


class Producer(Protocol):
    """The part of AIOKafkaProducer the gateway uses."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def partitions_for(self, topic: str) -> Any: ...
    async def send(self, topic: str, *, key: bytes, value: bytes) -> Awaitable[Any]: ...


class Publisher(Protocol):
    """What the HTTP handlers need from Kafka (KafkaGateway; a fake in unit tests)."""

    @property
    def ready(self) -> bool: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, records: Sequence[Record]) -> None:
        """Return once Kafka acknowledged every record; BrokerUnavailable when not ready,
        Kafka fails or it takes too long; RecordRejected when Kafka refuses one as too
        large."""


def aiokafka_producer(
    connection: KafkaConnection, send_timeout: float, max_request_size: int = MAX_REQUEST_SIZE
) -> Producer:
    producer: Producer = AIOKafkaProducer(
        **connection.aiokafka(),
        acks="all",
        request_timeout_ms=int(send_timeout * 1000),
        max_request_size=max_request_size,
        linger_ms=5,
        client_id="newsstream-api",
    )
    return producer


class KafkaGateway:
    def __init__(
        self,
        *,
        connection: KafkaConnection,
        topic: str,
        send_timeout: float = SEND_TIMEOUT,
        probe_seconds: float = PROBE_SECONDS,
        reconnect: RetryPolicy = RECONNECT,
        make_producer: Callable[[], Producer] | None = None,
        max_request_size: int = MAX_REQUEST_SIZE,
    ) -> None:
        self._connection = connection
        self._topic = topic
        self._send_timeout = send_timeout
        self._probe_seconds = probe_seconds
        self._reconnect = reconnect
        self._make_producer = make_producer or (
            lambda: aiokafka_producer(connection, send_timeout, max_request_size)
        )
        self._producer: Producer | None = None
        self._answering = False
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Connected, and Kafka answered the last probe or request."""
        return self._producer is not None and self._answering

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_connected(), name="kafka-gateway")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, records: Sequence[Record]) -> None:
        producer = self._producer
        if producer is None or not self._answering:
            raise BrokerUnavailable(
                f"not connected to Kafka at {self._connection.bootstrap}", retry_after=RETRY_AFTER
            )
        try:
            await self._send_all(producer, records)
        except TimeoutError as exc:
            self._answering = False
            raise BrokerUnavailable(
                f"Kafka did not acknowledge {len(records)} record(s) within "
                f"{self._send_timeout:g} s",
                retry_after=RETRY_AFTER,
            ) from exc
        except _TOO_LARGE as exc:
            raise RecordRejected(
                f"Kafka refused a record for {self._topic} as too large ({exc!r}); the "
                "topic's max.message.bytes is below what NEWSSTREAM_MAX_ARTICLE_BYTES allows "
                "(README 'Size limits')"
            ) from exc
        except KafkaError as exc:
            self._answering = False
            raise BrokerUnavailable(f"Kafka failed: {exc!r}", retry_after=RETRY_AFTER) from exc
        self._answering = True

    async def _send_all(self, producer: Producer, records: Sequence[Record]) -> None:
        """Send in request order (one partition keeps it per key), then await every ack."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._send_timeout
        async with asyncio.timeout_at(deadline):  # send() may wait for metadata or buffer
            deliveries = [
                asyncio.ensure_future(await producer.send(self._topic, key=r.key, value=r.value))
                for r in records
            ]
        # asyncio.wait, not gather: a timeout must not cancel the client's futures.
        _, pending = await asyncio.wait(deliveries, timeout=max(0.0, deadline - loop.time()))
        if pending:
            raise TimeoutError
        for delivery in deliveries:
            if (error := delivery.exception()) is not None:
                raise error

    async def _keep_connected(self) -> None:
        attempt = 0
        while True:
            if self._producer is None:
                try:
                    self._producer = await self._connect()
                except (KafkaError, OSError, TimeoutError) as exc:
                    attempt += 1
                    delay = self._reconnect.delay(attempt)
                    why = await self._why(exc)
                    log.warning("api: %s (%r); trying again in %.1f s", why, exc, delay)
                    await asyncio.sleep(delay)
                    continue
                attempt, self._answering = 0, True
                log.info("api: connected to Kafka at %s", self._connection.bootstrap)
                continue
            await asyncio.sleep(self._probe_seconds)
            await self._probe(self._producer)

    async def _connect(self) -> Producer:
        producer = self._make_producer()
        try:
            async with asyncio.timeout(self._send_timeout * 2):
                await producer.start()
                await producer.partitions_for(self._topic)  # the topic exists
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _probe(self, producer: Producer) -> None:
        client = getattr(producer, "client", None)
        if client is None:  # not an aiokafka producer (tests): no probe
            return
        try:
            answered = bool(await asyncio.wait_for(client.force_metadata_update(), 3.0))
        except (KafkaError, OSError, TimeoutError):
            answered = False
        if answered != self._answering:
            log.log(
                logging.INFO if answered else logging.WARNING,
                "api: Kafka at %s %s",
                self._connection.bootstrap,
                "answers again" if answered else "does not answer",
            )
        self._answering = answered

    async def _why(self, exc: BaseException) -> str:
        if isinstance(exc, UnknownTopicOrPartitionError):
            return f"Kafka has no topic {self._topic}: run `newsstream setup`"
        # diagnose may try a TLS handshake: off the event loop, which keeps serving.
        return await asyncio.to_thread(diagnose, self._connection)
