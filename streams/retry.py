"""The one retry policy: exponential backoff with a cap, optional full jitter and budget.

Every wait-and-try-again in newsstream goes through ``RetryPolicy.delay``: the worker
waiting out Kafka or Elasticsearch, the alert store recording an outcome, and webhook
delivery (which alone has a budget and jitter, so many workers do not hammer a receiver
in step). ``retry`` runs one call under a policy; the worker's runner keeps its own loop
because it retries only the records of a batch that still need it.

A stopping worker must not sit out a 30 s backoff: ``stoppable_sleep`` ends a wait with
``ShutdownRequested`` as soon as the stop is requested. Work cut short is not acked, so
Kafka delivers it again after the restart (at-least-once; ids make the repeat harmless).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from streams.errors import ConfigError, TransientError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Wait ``base_delay * 2**(attempt-1)`` seconds, at most ``max_delay``, after a failure.

    ``max_attempts=None`` retries until the call succeeds: right for infrastructure that
    will come back, where giving up would drop data. ``jitter`` draws the delay uniformly
    from zero to that ceiling ("full jitter").
    """

    base_delay: float = 0.5
    max_delay: float = 30.0
    max_attempts: int | None = None
    jitter: bool = False

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ConfigError("a retry policy needs 0 <= base_delay <= max_delay")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ConfigError("a retry policy needs max_attempts >= 1 (or None: no limit)")

    def delay(
        self, attempt: int, *, at_least: float = 0.0, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt ``attempt`` (counting from 1).

        ``at_least`` is what the other side asked for (Retry-After): honoured up to
        ``max_delay``, so a receiver cannot park a worker for an hour.
        """
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        wait = (rng or random).uniform(0, ceiling) if self.jitter else ceiling
        return min(max(wait, at_least), self.max_delay)

    def gives_up_after(self, attempt: int) -> bool:
        return self.max_attempts is not None and attempt >= self.max_attempts


def transient_wait(exc: BaseException | None) -> float | None:
    """The least wait before trying again if ``exc`` is transient; None if it is not (or
    there is no error)."""
    return exc.retry_after if isinstance(exc, TransientError) else None


# Kafka or Elasticsearch trouble: wait, never give up (the records are not lost, only late).
INFRASTRUCTURE = RetryPolicy()


async def retry(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    wait_hint: Callable[[Exception], float | None],
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> T:
    """Await ``call()`` until it succeeds, the error is not transient, or the budget is spent.

    ``wait_hint(exc)`` says whether ``exc`` is transient: None re-raises at once, a
    number is the least the other side asked us to wait (0.0 when it did not say).
    The last error is re-raised when the policy gives up.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except Exception as exc:
            hint = wait_hint(exc)
            if hint is None or policy.gives_up_after(attempt):
                raise
            delay = policy.delay(attempt, at_least=hint, rng=rng)
            log.warning("%s: attempt %d failed, retrying in %.1fs: %s", what, attempt, delay, exc)
            await sleep(delay)
            attempt += 1


class ShutdownRequested(BaseException):
    """The process is stopping: the work in hand is abandoned, not acked, read again later.

    Not an Exception, like asyncio.CancelledError: every ``except Exception`` that turns a
    failure into a record's outcome (a dead letter) must let a stop pass.
    """


def stoppable_sleep(stop: asyncio.Event) -> Callable[[float], Awaitable[None]]:
    """``asyncio.sleep`` that raises ShutdownRequested as soon as ``stop`` is set."""

    async def sleep(seconds: float) -> None:
        if not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=seconds)
            except TimeoutError:
                return  # slept the whole time: no stop
        raise ShutdownRequested(f"stop requested during a {seconds:.1f}s wait")

    return sleep
