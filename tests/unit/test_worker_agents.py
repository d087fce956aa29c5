"""The Faust edge: a batch is acked only after the runner handled it; failures stop the app;
a stop leaves the batch in hand unacked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.retry import ShutdownRequested
from streams.worker import DlqLimit, Origin
from streams.worker.agents import Shutdown, add_agent

from .test_worker_runner import Doubler
from .worker_fakes import Harness


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None


@dataclass
class Event:
    message: Message


@dataclass
class FakeStream:
    batches: list[list[Event]]
    acked: list[int] = field(default_factory=list)

    async def noack_take(self, max_: int, within: float) -> AsyncIterator[Sequence[Event]]:
        for batch in self.batches:
            yield batch

    async def ack(self, event: Event) -> bool:
        self.acked.append(event.message.offset)
        return True


@dataclass
class FakeApp:
    agents: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    crashed: list[BaseException] = field(default_factory=list)

    def agent(self, source: object, *, name: str) -> Callable[[Any], Any]:
        def register(fun: Callable[[Any], Any]) -> Callable[[Any], Any]:
            self.agents[name] = fun
            return fun

        return register

    async def crash(self, exc: BaseException) -> None:
        self.crashed.append(exc)


def events(*values: bytes, start: int = 0) -> list[Event]:
    return [Event(Message("in", 0, start + i, None, v)) for i, v in enumerate(values)]


def run_agent(harness: Harness, stream: FakeStream, shutdown: Shutdown | None = None) -> FakeApp:
    app = FakeApp()
    add_agent(
        app,  # type: ignore[arg-type]
        object(),  # type: ignore[arg-type]
        name="a",
        runners=[harness.runner],
        batch_size=2,
        within=0.1,
        shutdown=shutdown or Shutdown(),
    )
    asyncio.run(app.agents["a"](stream))
    return app


def test_batches_are_acked_after_they_were_handled() -> None:
    stage = Doubler()
    stream = FakeStream([events(b"1", b"bad"), events(b"3", start=2)])
    app = run_agent(Harness(stage), stream)
    assert stream.acked == [0, 1, 2] and stage.done == [2, 6]
    assert app.crashed == []


def test_the_dlq_limit_halts_the_agent_until_the_stop_without_acking() -> None:
    """Not ready, not consuming, not crashed: a restart would go on draining the topic."""
    stage = Doubler()
    stream = FakeStream([events(b"x", b"y"), events(b"1", start=2)])
    harness = Harness(stage, limit=DlqLimit(max_ratio=0.5, window=2))
    shutdown = Shutdown()

    async def main() -> FakeApp:
        app = FakeApp()
        add_agent(
            app,  # type: ignore[arg-type]
            object(),  # type: ignore[arg-type]
            name="a",
            runners=[harness.runner],
            batch_size=2,
            within=0.1,
            shutdown=shutdown,
        )
        agent = asyncio.ensure_future(app.agents["a"](stream))
        await asyncio.sleep(0.2)
        assert not agent.done(), "the agent ended instead of waiting for the stop"
        assert stage.done == []  # the batch after the one that hit the limit was not taken
        shutdown.requested.set()
        await asyncio.wait_for(agent, timeout=1)
        return app

    app = asyncio.run(main())
    assert stream.acked == [] and app.crashed == []
    assert harness.health.not_ready_because()[-1] == "stopped by the DLQ limit"
    assert harness.count("newsstream_dlq_limit_exceeded") == 1


def test_a_bug_in_the_runner_stops_the_app_loudly_and_skips_nothing() -> None:
    class Broken(Harness):
        @property
        def runner(self) -> Any:
            class Runner:
                async def run(self, batch: Sequence[Origin]) -> None:
                    raise RuntimeError("runner bug")

            return Runner()

    stream = FakeStream([events(b"1")])
    app = run_agent(Broken(Doubler()), stream)
    assert stream.acked == [] and str(app.crashed[0]) == "runner bug"


class StoppedInAWait(Harness):
    """A runner that is waiting out Elasticsearch when the worker stops."""

    @property
    def runner(self) -> Any:
        class Runner:
            async def run(self, batch: Sequence[Origin]) -> None:
                raise ShutdownRequested("stop requested during a 30.0s wait")

        return Runner()


def test_a_stop_in_a_wait_leaves_the_batch_unacked_and_ends_the_agent() -> None:
    stream = FakeStream([events(b"1", b"2"), events(b"3", start=2)])
    app = run_agent(StoppedInAWait(Doubler()), stream)
    assert stream.acked == []  # read again after the restart
    assert app.crashed == []  # a stop is no crash


def test_a_batch_taken_after_the_stop_is_not_started() -> None:
    stage = Doubler()
    stream = FakeStream([events(b"1", b"2")])
    shutdown = Shutdown()
    shutdown.requested.set()
    run_agent(Harness(stage), stream, shutdown)
    assert stage.calls == [] and stream.acked == []


def test_the_stop_waits_for_a_batch_in_hand_only_up_to_the_grace() -> None:
    async def run() -> tuple[bool, bool, bool]:
        shutdown = Shutdown()
        idle = await shutdown.request(grace=1.0)
        with shutdown.batch():
            held = await shutdown.request(grace=0.05)

        finishing = Shutdown()

        async def batch() -> None:
            with finishing.batch():
                await asyncio.sleep(0.05)

        task = asyncio.ensure_future(batch())
        await asyncio.sleep(0)  # the batch is in hand
        finished = await asyncio.wait_for(finishing.request(grace=5.0), timeout=10)
        await task
        return idle, held, finished

    assert asyncio.run(run()) == (True, False, True)


def test_the_agent_holds_its_batch_until_acked() -> None:
    shutdown = Shutdown()
    in_hand: list[int] = []

    class Watching(Harness):
        @property
        def runner(self) -> Any:
            class Runner:
                async def run(self, batch: Sequence[Origin]) -> None:
                    in_hand.append(shutdown.batches_in_hand)

            return Runner()

    stream = FakeStream([events(b"1")])
    run_agent(Watching(Doubler()), stream, shutdown)
    assert in_hand == [1] and stream.acked == [0] and shutdown.batches_in_hand == 0


def keyed(keys: str, start: int) -> list[Event]:
    """A batch of one record per key, offsets from ``start``."""
    return [Event(Message("in", 0, start + i, k.encode(), b"1")) for i, k in enumerate(keys)]


@dataclass
class Timed:
    """A runner whose batches take ``seconds[first offset]`` (default 0.02); it notes
    when batches start and end, and how many ran at once."""

    seconds: dict[int, float] = field(default_factory=dict)
    stop_on: int | None = None  # the batch starting at this offset ends in a stop
    log: list[str] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0

    async def run(self, batch: Sequence[Origin]) -> None:
        first = batch[0].offset
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.log.append(f"start {first}")
        try:
            await asyncio.sleep(self.seconds.get(first, 0.02))
            if first == self.stop_on:
                raise ShutdownRequested("stop requested during a wait")
        finally:
            self.running -= 1
        self.log.append(f"end {first}")


def run_flights(
    batches: list[list[Event]], runners: list[Any], *, in_flight: int
) -> tuple[FakeStream, FakeApp]:
    app, stream = FakeApp(), FakeStream(batches)
    add_agent(
        app,  # type: ignore[arg-type]
        object(),  # type: ignore[arg-type]
        name="a",
        runners=runners,
        batch_size=2,
        within=0.1,
        shutdown=Shutdown(),
        in_flight=in_flight,
    )
    asyncio.run(app.agents["a"](stream))
    return stream, app


def test_each_batch_goes_to_every_runner_and_is_acked_once_after_both() -> None:
    first, second = Doubler(), Doubler(rejected={3})
    stream, app = run_flights(
        [events(b"1", b"2"), events(b"3", start=2)],
        [Harness(first).runner, Harness(second).runner],
        in_flight=1,
    )
    assert first.done == [2, 4, 6] and second.done == [2, 4]
    assert stream.acked == [0, 1, 2] and app.crashed == []


def test_batches_in_flight_are_acked_in_the_order_read_whatever_order_they_finish_in() -> None:
    runner = Timed(seconds={0: 0.2, 2: 0.01})
    stream, _ = run_flights([keyed("ab", 0), keyed("cd", 2)], [runner], in_flight=2)
    assert runner.log == ["start 0", "start 2", "end 2", "end 0"]
    assert stream.acked == [0, 1, 2, 3]


def test_no_more_batches_than_in_flight_are_handled_at_once() -> None:
    runner = Timed()
    batches = [keyed("ab", 0), keyed("cd", 2), keyed("ef", 4), keyed("gh", 6)]
    stream, _ = run_flights(batches, [runner], in_flight=2)
    assert runner.most_at_once == 2 and stream.acked == list(range(8))

    one_at_a_time = Timed()
    run_flights(batches, [one_at_a_time], in_flight=1)
    assert one_at_a_time.most_at_once == 1


def test_a_batch_holding_an_article_in_flight_waits_for_it() -> None:
    # Two versions of article "b" must reach Elasticsearch in the order they were read.
    runner = Timed(seconds={0: 0.1})
    stream, _ = run_flights([keyed("ab", 0), keyed("bc", 2)], [runner], in_flight=2)
    assert runner.log == ["start 0", "end 0", "start 2", "end 2"]
    assert stream.acked == [0, 1, 2, 3]


def test_a_batch_read_after_one_that_was_not_acked_is_not_acked_either() -> None:
    # Faust would commit past the first batch if the second were acked.
    runner = Timed(seconds={0: 0.1, 2: 0.01}, stop_on=0)
    stream, app = run_flights([keyed("ab", 0), keyed("cd", 2)], [runner], in_flight=2)
    assert "end 2" in runner.log
    assert stream.acked == [] and app.crashed == []
