"""Faust at the edge: a stage's runner as an agent, and Faust's producer as ours.

Agents read with acks off (``noack_take``) and ack a batch only after the runner
returns, i.e. after every record was handled or dead-lettered: Faust commits only
acked offsets. (``take_events`` acks in a ``finally``: after a failure, or when the
worker stops in the middle of a retry.) Nothing escapes an agent: Faust would restart
it past the failing offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import Any, cast

import faust
from faust.types import EventT

from streams.worker.dlq import DlqLimitExceeded, Origin
from streams.worker.runner import Runner

log = logging.getLogger(__name__)


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
) -> None:
    async def agent(stream: faust.StreamT[bytes]) -> None:
        manual = cast("faust.Stream[bytes]", stream)  # noack_take is on the concrete Stream
        async for items in manual.noack_take(batch_size, within=within):
            events = [cast(EventT[bytes], item) for item in items]  # events, typed as values
            try:
                await runner.run([origin_of(event) for event in events])
            except DlqLimitExceeded as exc:
                runner.telemetry.limit_exceeded()  # before the crash: /readyz says why
                log.critical("%s", exc)
                await app.crash(exc)
                return
            except Exception as exc:  # a bug in the runner itself: stop loudly, skip nothing
                log.exception("agent %s failed; stopping the worker", name)
                await app.crash(exc)
                return
            await ack(stream, events)

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
