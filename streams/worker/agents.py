"""Faust at the edge: stages' runners as an agent, Faust's producer as ours, and a
worker that stops in bounded time.

Agents read with acks off (``noack_take``) and ack a batch only after its runners
return, i.e. after every record was handled or dead-lettered by each of them, and after
the batch read before it was acked: Faust commits only acked offsets. (``take_events``
acks in a ``finally``: after a failure, or when the worker stops in the middle of a
retry.) Nothing escapes an agent: Faust would restart it past the failing offsets.

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
from collections import deque
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
    runners: Sequence[Runner[Any]],
    batch_size: int,
    within: float,
    shutdown: Shutdown,
    in_flight: int = 1,
) -> None:
    """``runners`` as one agent on ``source``: each batch of up to ``batch_size`` records
    (or what came within ``within`` seconds) goes to every runner at once, and is acked
    when all of them are done with it.

    ``in_flight``: how many batches are handled at once. Batches are acked in the order
    they were read, whatever order they finish in: Faust would commit past a batch still
    in hand if a later one were acked first (it does not look for a gap before the first
    commit). A batch holding a key of a batch still in flight waits for it, so two
    versions of one article are never written at the same time.
    """
    halted = asyncio.Event()

    async def handle(events: Sequence[EventT[bytes]]) -> bool:
        """Run one batch through every runner; False when it must not be acked."""
        origins = [origin_of(event) for event in events]
        results = await asyncio.gather(
            *(runner.run(origins) for runner in runners), return_exceptions=True
        )
        for runner, result in zip(runners, results, strict=True):
            if isinstance(result, ShutdownRequested):
                log.info(
                    "%s: stopping in a wait; %d records not acked, read again after the restart",
                    name,
                    len(events),
                )
                return False
            if isinstance(result, DlqLimitExceeded):
                # Stop taking records but stay up: /readyz answers 503 with the reason
                # and the topic is not drained into the DLQ. A crash would be restarted
                # and go on draining; an operator decides (`newsstream dlq inspect`).
                runner.telemetry.limit_exceeded()
                log.critical("%s", result)
                halted.set()
            elif isinstance(result, Exception):  # a bug in the runner: stop loudly, skip nothing
                log.error("agent %s failed; stopping the worker", name, exc_info=result)
                await app.crash(result)
                return False
            elif isinstance(result, BaseException):
                raise result  # cancelled: the worker stops
        if halted.is_set():
            await shutdown.requested.wait()  # the batch is not acked: read again later
            return False
        return True

    async def fly(
        stream: faust.StreamT[bytes], events: list[EventT[bytes]], after: asyncio.Task[bool] | None
    ) -> bool:
        """Handle a batch, then ack it once the batch read before it is acked."""
        with shutdown.batch():
            handled = await handle(events)
            if after is not None and not await after:
                return False
            if handled:
                await ack(stream, events)
            return handled

    async def agent(stream: faust.StreamT[bytes]) -> None:
        manual = cast("faust.Stream[bytes]", stream)  # noack_take is on the concrete Stream
        flights: deque[tuple[asyncio.Task[bool], frozenset[bytes]]] = deque()
        try:
            async for items in manual.noack_take(batch_size, within=within):
                if shutdown.requested.is_set() or halted.is_set():
                    break  # a batch taken after the stop: not started, not acked
                events = [cast(EventT[bytes], item) for item in items]  # events, typed as values
                keys = frozenset(e.message.key for e in events if e.message.key is not None)
                while flights and (
                    flights[0][0].done()
                    or len(flights) >= in_flight
                    or any(keys & held for _, held in flights)
                ):
                    if not await flights.popleft()[0]:
                        return
                after = flights[-1][0] if flights else None
                flights.append((asyncio.ensure_future(fly(stream, events, after)), keys))
            while flights:  # the stream ended (only in tests) or the stop came
                if not await flights.popleft()[0]:
                    return
        finally:
            for task, _ in flights:  # the agent was cancelled: not acked, read again later
                task.cancel()

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
