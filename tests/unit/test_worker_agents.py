"""The Faust edge: a batch is acked only after the runner handled it; failures stop the app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.worker import DlqLimit, DlqLimitExceeded, Origin
from streams.worker.agents import add_agent

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


def run_agent(harness: Harness, stream: FakeStream) -> FakeApp:
    app = FakeApp()
    add_agent(app, object(), name="a", runner=harness.runner, batch_size=2, within=0.1)  # type: ignore[arg-type]
    asyncio.run(app.agents["a"](stream))
    return app


def test_batches_are_acked_after_they_were_handled() -> None:
    stage = Doubler()
    stream = FakeStream([events(b"1", b"bad"), events(b"3", start=2)])
    app = run_agent(Harness(stage), stream)
    assert stream.acked == [0, 1, 2] and stage.done == [2, 6]
    assert app.crashed == []


def test_the_dlq_limit_stops_the_app_without_acking_the_batch() -> None:
    stream = FakeStream([events(b"x", b"y")])
    harness = Harness(Doubler(), limit=DlqLimit(max_ratio=0.5, window=2))
    app = run_agent(harness, stream)
    assert stream.acked == []
    assert [type(e) for e in app.crashed] == [DlqLimitExceeded]
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
