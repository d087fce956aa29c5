"""The one retry policy and the ``retry`` helper, with an injected sleep."""

from __future__ import annotations

import asyncio
import random

import pytest

from streams.errors import ConfigError, SinkBackpressure
from streams.retry import (
    INFRASTRUCTURE,
    RetryPolicy,
    ShutdownRequested,
    retry,
    stoppable_sleep,
)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jittered_backoff_stays_under_its_ceiling() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=8.0, jitter=True)
    rng = random.Random(7)
    delays = [policy.delay(n, rng=rng) for n in range(1, 8)]
    for attempt, delay in enumerate(delays, start=1):
        assert 0 <= delay <= min(8.0, 2 ** (attempt - 1))
    assert len(set(delays)) == len(delays)  # jitter: not the same fixed steps


def test_asked_for_wait_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=10.0)
    assert policy.delay(1, at_least=3.0) == 3.0
    assert policy.delay(1, at_least=3600.0) == 10.0


def test_policy_validation() -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ConfigError):
        RetryPolicy(base_delay=2.0, max_delay=1.0)


def test_infrastructure_policy_never_gives_up() -> None:
    assert not INFRASTRUCTURE.gives_up_after(10_000)


def hint(exc: Exception) -> float | None:
    return exc.retry_after if isinstance(exc, SinkBackpressure) else None


def run_retry(outcomes: list[Exception | str], policy: RetryPolicy) -> tuple[object, list[float]]:
    slept: list[float] = []
    calls = iter(outcomes)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def call() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def main() -> object:
        return await retry(call, policy=policy, wait_hint=hint, what="test", sleep=sleep)

    return asyncio.run(main()), slept


def test_transient_errors_are_waited_out() -> None:
    busy = SinkBackpressure("busy", retry_after=0.0)
    result, slept = run_retry([busy, busy, "done"], RetryPolicy(base_delay=1.0, max_delay=8.0))
    assert result == "done" and slept == [1.0, 2.0]


def test_retry_after_of_the_error_is_the_least_wait() -> None:
    busy = SinkBackpressure("busy", retry_after=5.0)
    _, slept = run_retry([busy, "done"], RetryPolicy(base_delay=1.0, max_delay=8.0))
    assert slept == [5.0]


def test_other_errors_are_raised_at_once() -> None:
    with pytest.raises(ValueError, match="bug"):
        run_retry([ValueError("bug"), "never"], RetryPolicy())


def test_budget_spent_raises_the_last_error() -> None:
    errors: list[Exception | str] = [SinkBackpressure(f"busy {n}", retry_after=0) for n in range(3)]
    with pytest.raises(SinkBackpressure, match="busy 1"):
        run_retry(errors, RetryPolicy(base_delay=0.0, max_delay=0.0, max_attempts=2))


def test_a_stoppable_sleep_without_a_stop_sleeps_its_time() -> None:
    async def run() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await stoppable_sleep(asyncio.Event())(0.05)
        return loop.time() - started

    assert asyncio.run(run()) >= 0.05


def test_a_stop_ends_a_long_wait_at_once() -> None:
    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, stop.set)
        # Bounded: if the stop did not end the 30 s wait, wait_for fails the test.
        await asyncio.wait_for(stoppable_sleep(stop)(30.0), timeout=5)

    with pytest.raises(ShutdownRequested):
        asyncio.run(run())


def test_no_wait_begins_once_the_stop_was_requested() -> None:
    async def run() -> None:
        stop = asyncio.Event()
        stop.set()
        await asyncio.wait_for(stoppable_sleep(stop)(30.0), timeout=5)

    with pytest.raises(ShutdownRequested):
        asyncio.run(run())


def test_a_stop_is_no_failure_that_a_handler_of_failures_could_swallow() -> None:
    # A record's failure is dead-lettered by `except Exception`; a stop must pass through.
    assert not issubclass(ShutdownRequested, Exception)
