"""In-memory fakes of the worker's edges: the producer, the stores, the dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.worker import DeadLetters, DlqLimit, Origin, Runner, Stage
from streams.worker.telemetry import Health, Metrics


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes

    def json(self) -> Any:
        return orjson.loads(self.value)


@dataclass
class FakeProducer:
    """Keeps what the broker acknowledged; ``fail(value)`` may name an error to raise.

    An error with ``at_send`` set is raised by ``send``; otherwise by the delivery.
    """

    sent: list[Sent] = field(default_factory=list)
    fail: Callable[[str, bytes], Exception | None] = lambda topic, value: None
    at_send: bool = False

    async def send(self, topic: str, *, key: bytes | None, value: bytes) -> Awaitable[Any]:
        error = self.fail(topic, value)
        if error is not None and self.at_send:
            raise error
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if error is None:
            self.sent.append(Sent(topic, key, value))
            delivery.set_result(None)
        else:
            delivery.set_exception(error)
        return delivery

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


def origin(value: bytes, offset: int = 0, topic: str = "in") -> Origin:
    return Origin(topic, 0, offset, b"k", value)


@dataclass
class Harness:
    """A runner around ``stage`` with fake edges, and what it slept."""

    stage: Stage[Any]
    producer: FakeProducer = field(default_factory=FakeProducer)
    limit: DlqLimit = field(default_factory=lambda: DlqLimit(max_ratio=1.0, window=1000))
    slept: list[float] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    health: Health = field(default_factory=lambda: Health(stuck_after=60.0))

    @property
    def runner(self) -> Runner[Any]:
        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        return Runner(
            self.stage,
            dead_letters=DeadLetters(self.producer),
            dead_letter_topic="dlq",
            limit=self.limit,
            telemetry=self.metrics.stage(self.stage.name, self.health),
            sleep=sleep,
        )

    def run(self, *values: bytes) -> None:
        batch = [origin(value, offset) for offset, value in enumerate(values)]
        asyncio.run(self.runner.run(batch))

    def count(self, name: str, **labels: str) -> float:
        """A metric's value as Prometheus would scrape it (0 when never set)."""
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def letters(self) -> list[Any]:
        return [s.json() for s in self.producer.on("dlq")]
