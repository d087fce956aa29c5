"""The one loop every stage runs in: decode, handle, classify, retry, dead-letter.

    batch of records ─decode─▶ values ─stage.handle─▶ one outcome per value
      undecodable ───────────────────────────────────▶ dead letter (stage, reason)
                                       None ─────────▶ done
                                       TransientError ▶ wait (one policy), handle again
                                       anything else ─▶ dead letter (a bug: traceback)

``Runner.run`` returns only when every record of the batch is done or dead-lettered, so
the caller acks the batch after it (ack after success; Faust commits acked offsets).
A stage that raises for a whole batch is handled again one record at a time: one
record's failure never fails or stalls its batch mates. Every outcome counts toward
the DLQ limit, which stops the worker when most records fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from streams.errors import NewsstreamError
from streams.retry import INFRASTRUCTURE, RetryPolicy, transient_wait
from streams.worker.dlq import DeadLetters, DlqLimit, Origin
from streams.worker.telemetry import StageTelemetry

T = TypeVar("T")
log = logging.getLogger(__name__)


class Stage(Protocol[T]):
    """One step of the pipeline: a decoder of its input and a batch handler.

    ``handle`` returns one outcome per value, in order: None when the value is done,
    else the exception that stopped it (a TransientError to be tried again). It may also
    raise for the whole batch; the runner then tries each value alone.
    """

    @property
    def name(self) -> str:
        """The stage in dead letters and logs."""

    @property
    def decode_stage(self) -> str:
        """The stage named in dead letters of undecodable records."""

    def decode(self, record: Origin) -> T:
        """The record's value as the stage's input (its key and timestamp at hand)."""

    def article_id(self, value: T) -> str | None:
        """The article a value is about, for the logs."""

    async def handle(self, values: Sequence[T]) -> Sequence[Exception | None]: ...


@dataclass(frozen=True, slots=True)
class _Record(Generic[T]):
    origin: Origin
    value: T


@dataclass
class Runner(Generic[T]):
    stage: Stage[T]
    dead_letters: DeadLetters
    dead_letter_topic: str
    limit: DlqLimit
    telemetry: StageTelemetry
    policy: RetryPolicy = INFRASTRUCTURE
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def run(self, batch: Sequence[Origin]) -> None:
        """Handle ``batch``; return when each record is done or dead-lettered.

        Raises DlqLimitExceeded when too many of the recent records failed.
        """
        self.telemetry.consumed(len(batch))
        try:
            await self._run(batch)
        finally:
            self.telemetry.idle()

    async def _run(self, batch: Sequence[Origin]) -> None:
        self.telemetry.step()
        decoded = [await self._decode(origin) for origin in batch]
        pending = [record for record in decoded if record is not None]
        attempt = 0
        while pending:
            self.telemetry.step()
            started = time.monotonic()
            outcomes = await self._handle(pending)
            self.telemetry.handled(time.monotonic() - started)
            pending, wait, reason = await self._settle(pending, outcomes)
            if pending:
                attempt += 1
                delay = self.policy.delay(attempt, at_least=wait)
                log.warning(
                    "%s: %d records wait %.1fs: %s",
                    self.stage.name,
                    len(pending),
                    delay,
                    reason,
                    extra={"stage": self.stage.name},
                )
                self.telemetry.waiting(len(pending), reason, delay)
                self.telemetry.step()
                await self.sleep(delay)

    async def _settle(
        self, records: Sequence[_Record[T]], outcomes: Sequence[Exception | None]
    ) -> tuple[list[_Record[T]], float, Exception | None]:
        """Count the done, dead-letter the failed; return the transient ones to try again,
        the longest wait they asked for and one of their errors (for the log)."""
        again: list[_Record[T]] = []
        wait, reason = 0.0, None
        for record, outcome in zip(records, outcomes, strict=True):
            hint = transient_wait(outcome)
            if outcome is None:
                self.telemetry.done()
                self.limit.record(failed=False)
            elif hint is not None:
                again.append(record)
                wait, reason = max(wait, hint), outcome
            else:
                article_id = self.stage.article_id(record.value)
                await self._dead_letter(record.origin, outcome, self.stage.name, article_id)
        return again, wait, reason

    async def _decode(self, origin: Origin) -> _Record[T] | None:
        try:
            return _Record(origin, self.stage.decode(origin))
        except Exception as exc:  # noqa: BLE001 - garbage bytes (or a decoder bug): DLQ
            await self._dead_letter(origin, exc, self.stage.decode_stage)
            return None

    async def _handle(self, records: Sequence[_Record[T]]) -> list[Exception | None]:
        try:
            outcomes = list(await self.stage.handle([r.value for r in records]))
            if len(outcomes) != len(records):
                raise RuntimeError(f"stage {self.stage.name} gave a wrong number of outcomes")
        except Exception as exc:  # classified below: never escapes the agent
            if transient_wait(exc) is not None or len(records) == 1:
                return [exc] * len(records)
            log.exception("%s failed for a batch; trying its records one by one", self.stage.name)
            return [(await self._handle([record]))[0] for record in records]
        return outcomes

    async def _dead_letter(
        self, origin: Origin, error: BaseException, stage: str, article_id: str | None = None
    ) -> None:
        if not isinstance(error, NewsstreamError):
            log.error("%s: unexpected error", stage, exc_info=error)
        self.telemetry.step()
        await self.dead_letters.send(
            self.dead_letter_topic, origin, error, stage=stage, article_id=article_id
        )
        self.telemetry.dead_lettered(stage, error)
        self.limit.record(failed=True)
