"""The runner every stage uses: decode, handle, classify, retry, dead-letter, count."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from aiokafka.errors import KafkaConnectionError

from streams.errors import InvalidRecord, RecordRejected, SinkBackpressure
from streams.retry import ShutdownRequested, stoppable_sleep
from streams.worker import DlqLimit, DlqLimitExceeded, Origin

from .worker_fakes import FakeProducer, Harness, origin


@dataclass
class Doubler:
    """A stage that doubles integers; its knobs make values fail in each way there is."""

    busy_times: dict[int, int] = field(default_factory=dict)  # value -> transient failures
    rejected: set[int] = field(default_factory=set)
    bug_on: int | None = None  # raises for any batch holding this value
    done: list[int] = field(default_factory=list)
    calls: list[list[int]] = field(default_factory=list)
    name: str = "double"
    decode_stage: str = "decode"

    def article_id(self, value: int) -> str | None:
        return f"article-{value}"

    def decode(self, record: Origin) -> int:
        try:
            return int(record.value or b"")
        except ValueError as exc:
            raise InvalidRecord(f"not an integer: {record.value!r}") from exc

    async def handle(self, values: Sequence[int]) -> list[Exception | None]:
        self.calls.append(list(values))
        if self.bug_on in values:
            raise ZeroDivisionError("a bug in the stage")
        return [self._one(v) for v in values]

    def _one(self, value: int) -> Exception | None:
        if self.busy_times.get(value, 0) > 0:
            self.busy_times[value] -= 1
            return SinkBackpressure("busy", retry_after=0.0)
        if value in self.rejected:
            return RecordRejected(f"{value} refused")
        self.done.append(value * 2)
        return None


def test_garbage_is_dead_lettered_and_the_next_record_goes_through() -> None:
    stage = Doubler()
    harness = Harness(stage)
    harness.run(b"\xff\xfe not a number", b"21")
    assert stage.done == [42]
    [letter] = harness.letters()
    assert letter["stage"] == "decode" and "not an integer" in letter["reason"]
    assert base64.b64decode(letter["original"]) == b"\xff\xfe not a number"
    assert (letter["source_topic"], letter["source_offset"]) == ("in", 0)


def test_transient_failures_wait_with_backoff_and_retry_only_what_failed() -> None:
    stage = Doubler(busy_times={2: 3})
    harness = Harness(stage)
    harness.run(b"1", b"2", b"3")
    assert sorted(stage.done) == [2, 4, 6]
    assert stage.calls == [[1, 2, 3], [2], [2], [2]]
    assert harness.slept == [0.5, 1.0, 2.0]
    assert harness.letters() == []
    assert harness.count("newsstream_retries_total", stage="double", cause="SinkBackpressure") == 3
    assert (
        harness.count("newsstream_backoff_seconds_total", stage="double", cause="SinkBackpressure")
        == 3.5
    )
    assert harness.count("newsstream_records_consumed_total", stage="double") == 3
    assert harness.count("newsstream_records_done_total", stage="double") == 3


def test_a_rejected_record_is_dead_lettered_and_spares_its_batch_mates() -> None:
    stage = Doubler(rejected={2})
    harness = Harness(stage)
    harness.run(b"1", b"2", b"3")
    assert stage.done == [2, 6]
    [letter] = harness.letters()
    assert letter["stage"] == "double" and letter["reason"] == "2 refused"
    assert letter["error_type"] == "RecordRejected" and letter["source_offset"] == 1
    assert harness.slept == []
    dead = harness.count(
        "newsstream_records_dead_lettered_total", stage="double", reason="RecordRejected"
    )
    assert dead == 1 and harness.count("newsstream_records_done_total", stage="double") == 2


def test_a_bug_on_one_record_is_found_and_dead_lettered_with_its_traceback() -> None:
    stage = Doubler(bug_on=2)
    harness = Harness(stage)
    harness.run(b"1", b"2", b"3")
    assert sorted(stage.done) == [2, 6]
    assert stage.calls == [[1, 2, 3], [1], [2], [3]]
    [letter] = harness.letters()
    assert letter["error_type"] == "ZeroDivisionError"
    assert "a bug in the stage" in letter["reason"] and "Traceback" in letter["reason"]


def test_a_dead_letter_waits_out_kafka_until_the_broker_has_it() -> None:
    attempts = {"n": 0}

    def fail(topic: str, value: bytes) -> Exception | None:
        if topic == "dlq" and attempts["n"] < 2:
            attempts["n"] += 1
            return KafkaConnectionError("broker away")
        return None

    stage = Doubler()
    harness = Harness(stage, producer=FakeProducer(fail=fail))
    harness.run(b"garbage", b"5")
    assert len(harness.letters()) == 1 and attempts["n"] == 2
    assert stage.done == [10]


def test_the_dlq_limit_stops_the_worker_when_most_records_fail() -> None:
    harness = Harness(Doubler(), limit=DlqLimit(max_ratio=0.5, window=4))
    with pytest.raises(DlqLimitExceeded, match="stopping"):
        harness.run(b"1", b"x", b"y", b"z")


def test_successes_count_toward_the_dlq_window() -> None:
    limit = DlqLimit(max_ratio=0.5, window=4)
    harness = Harness(Doubler(), limit=limit)
    harness.run(b"1", b"2", b"3", b"x")  # 1 of 4 failed: under the limit
    assert len(harness.letters()) == 1


def test_a_stage_is_idle_after_a_batch_and_stuck_while_one_step_hangs() -> None:
    import asyncio

    from streams.worker.telemetry import Health

    now = [0.0]
    health = Health(stuck_after=10.0, clock=lambda: now[0])
    harness = Harness(Doubler(), health=health)
    harness.run(b"1")
    assert health.stuck_stages() == []  # finished: idle, however long since

    seen_while_hanging: list[list[str]] = []

    async def hang(values: Sequence[int]) -> list[Exception | None]:
        now[0] += 11.0  # this one step outlives the limit
        seen_while_hanging.append(health.stuck_stages())
        return [None] * len(values)

    stage = Doubler()
    stage.handle = hang  # type: ignore[method-assign]
    asyncio.run(Harness(stage, health=health).runner.run([]))  # nothing to do: no step
    Harness(stage, health=health).run(b"2")
    assert seen_while_hanging == [["double"]]
    assert health.stuck_stages() == []
    assert "stage double stuck" not in health.not_ready_because()


def test_readiness_names_every_reason() -> None:
    from streams.worker.telemetry import Health

    health = Health(stuck_after=10.0)
    assert health.not_ready_because() == [
        "no partitions assigned",
        "Kafka unreachable",
        "Elasticsearch unreachable",
    ]
    health.partitions_assigned = health.kafka_reachable = True
    health.elasticsearch_reachable = True
    assert health.not_ready_because() == []
    health.stopped_by_dlq_limit = True
    assert health.not_ready_because() == ["stopped by the DLQ limit"]


def test_a_dead_letter_s_log_line_names_the_article_and_the_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness(Doubler(rejected={2}))
    with caplog.at_level("WARNING", logger="streams.worker.dlq"):
        harness.run(b"1", b"2")
    [line] = [r for r in caplog.records if r.name == "streams.worker.dlq"]
    assert (line.article_id, line.stage, line.topic, line.offset) == (  # type: ignore[attr-defined]
        "article-2",
        "double",
        "in",
        1,
    )


def test_a_stop_ends_the_wait_for_elasticsearch_and_leaves_the_records_undone() -> None:
    stage = Doubler(busy_times={2: 1_000})  # Elasticsearch stays busy for record 2
    harness = Harness(stage)

    async def run() -> None:
        stop = asyncio.Event()
        runner = dataclasses.replace(harness.runner, sleep=stoppable_sleep(stop))
        asyncio.get_running_loop().call_later(0.05, stop.set)
        # Real backoff waits (0.5 s, 1 s, ...): without the stop this would go on for ever.
        await asyncio.wait_for(runner.run([origin(b"1", 0), origin(b"2", 1)]), timeout=10)

    with pytest.raises(ShutdownRequested):
        asyncio.run(run())
    assert stage.done == [2] and stage.calls == [[1, 2]]  # record 2: neither done nor retried
    assert harness.letters() == []  # a stop is not a failure: nothing dead-lettered
