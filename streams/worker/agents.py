"""Faust at the edge: a stage's runner as an agent, Faust's producer as ours, and a
worker that stops in bounded time.

Agents read with acks off (``noack_take``) and ack a batch only after the runner
returns, i.e. after every record was handled or dead-lettered: Faust commits only
acked offsets. (``take_events`` acks in a ``finally``: after a failure, or when the
worker stops in the middle of a retry.) Nothing escapes an agent: Faust would restart
it past the failing offsets.

Stopping (SIGTERM, or a crash of the runner): ``BoundedStopWorker`` tells the
agents first (``Shutdown``). A runner waiting out Kafka or Elasticsearch gives up its
wait at once; a batch being handled gets ``STOP_GRACE_SECONDS`` to finish and be acked;
then Faust stops: it cancels what is still running (never acked, so read again after the
restart), commits the acked offsets and leaves the consumer group, so the other workers
take the partitions over at once. Whatever still hangs after ``STOP_DEADLINE_SECONDS``
(a commit or a LeaveGroup to an unreachable Kafka) is cut off by exiting the process:
what it held was not committed and comes back (at-least-once; ids make it idempotent).

The DLQ limit does not stop the worker: the agent that hit it stops taking records and
waits for the stop, /readyz answers 503 with the reason, and its batch is not acked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.types import EventT
from faust.worker import Worker

from streams.retry import ShutdownRequested
from streams.worker.dlq import DlqLimitExceeded, Origin
from streams.worker.runner import Runner

log = logging.getLogger(__name__)

# A batch in hand when the stop comes may finish and be acked within this; Kubernetes
# gives a pod 30 s between SIGTERM and SIGKILL, a person at a terminal less patience.
STOP_GRACE_SECONDS = 3.0
# The whole stop, from the signal to the exit; past it the process exits on its own.
STOP_DEADLINE_SECONDS = 8.0
EXIT_STOP_DEADLINE = 3


@dataclass
class Shutdown:
    """The worker's stop as the agents see it: whether it was asked for, and how many
    batches are still in hand."""

    requested: asyncio.Event = field(default_factory=asyncio.Event)
    _in_hand: int = 0
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._idle.set()

    @property
    def batches_in_hand(self) -> int:
        return self._in_hand

    @contextmanager
    def batch(self) -> Iterator[None]:
        self._in_hand += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_hand -= 1
            if self._in_hand == 0:
                self._idle.set()

    async def request(self, *, grace: float) -> bool:
        """Ask the agents to stop; True once no batch is in hand, False after ``grace``."""
        self.requested.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace)
        except TimeoutError:
            return False
        return True


class BoundedStopWorker(Worker):
    """Faust's worker, stopping within ``STOP_DEADLINE_SECONDS`` of the signal."""

    def __init__(self, app: faust.App, *, shutdown: Shutdown, **options: Any) -> None:
        super().__init__(app, **options)
        self.shutdown = shutdown

    async def on_stop(self) -> None:
        """Called first when the worker stops, before Faust stops the app."""
        exit_after(STOP_DEADLINE_SECONDS)
        if not await self.shutdown.request(grace=STOP_GRACE_SECONDS):
            log.warning(
                "a batch still in hand after %.0f s: stopping it; its records were not "
                "acked and are read again after the restart",
                STOP_GRACE_SECONDS,
            )
        await super().on_stop()


def exit_after(seconds: float) -> threading.Timer:
    """Exit the process after ``seconds`` unless it has ended by then (a daemon timer:
    it neither keeps the process alive nor needs the event loop to be responsive)."""

    def cut_off() -> None:
        log.error(
            "the worker did not stop within %.0f s (Kafka unreachable?); exiting now: "
            "offsets not committed are read again after the restart",
            seconds,
        )
        logging.shutdown()
        os._exit(EXIT_STOP_DEADLINE)

    timer = threading.Timer(seconds, cut_off)
    timer.daemon = True
    timer.start()
    return timer


class FaustProducer:
    """The app's own producer (its acks=-1 and settings) behind the stages' Producer."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._topics: dict[str, faust.TopicT] = {}

    async def send(self, topic: str, *, key: bytes | None, value: bytes) -> Awaitable[Any]:
        return await self.topic(topic).send(key=key, value=value)

    def topic(self, name: str) -> faust.TopicT:
        if name not in self._topics:
            self._topics[name] = self._app.topic(
                name, key_type=bytes, value_type=bytes, internal=False
            )
        return self._topics[name]


def add_agent(
    app: faust.App,
    source: faust.TopicT,
    *,
    name: str,
    runner: Runner[Any],
    batch_size: int,
    within: float,
    shutdown: Shutdown,
) -> None:
    """``runner`` as an agent on ``source``, a batch of up to ``batch_size`` records at a
    time (or what came within ``within`` seconds)."""

    async def settle(stream: faust.StreamT[bytes], events: list[EventT[bytes]]) -> bool:
        """Run one batch and ack it; False when the agent must take no more records."""
        halted = False
        with shutdown.batch():
            try:
                await runner.run([origin_of(event) for event in events])
            except ShutdownRequested:
                log.info(
                    "%s: stopping in a wait; %d records not acked, read again after the restart",
                    name,
                    len(events),
                )
                return False
            except DlqLimitExceeded as exc:
                # Stop taking records but stay up: /readyz answers 503 with the reason
                # and the topic is not drained into the DLQ. A crash would be restarted
                # and go on draining; an operator decides (`newsstream dlq inspect`).
                runner.telemetry.limit_exceeded()
                log.critical("%s", exc)
                halted = True
            except Exception as exc:  # a bug in the runner itself: stop loudly, skip nothing
                log.exception("agent %s failed; stopping the worker", name)
                await app.crash(exc)
                return False
        if halted:
            await shutdown.requested.wait()  # the batch is not acked: read again later
            return False
        await ack(stream, events)
        return True

    async def agent(stream: faust.StreamT[bytes]) -> None:
        manual = cast("faust.Stream[bytes]", stream)  # noack_take is on the concrete Stream
        async for items in manual.noack_take(batch_size, within=within):
            if shutdown.requested.is_set():
                return  # a batch taken after the stop: not started, not acked
            events = [cast(EventT[bytes], item) for item in items]  # events, typed as values
            if not await settle(stream, events):
                return

    app.agent(source, name=name)(agent)


async def ack(stream: faust.StreamT[bytes], events: Sequence[EventT[bytes]]) -> None:
    for event in events:
        await stream.ack(event)


def origin_of(event: EventT[bytes]) -> Origin:
    message = event.message
    return Origin(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        message.timestamp,
    )
