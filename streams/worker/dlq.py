"""Dead letters: what failed, why, and where it came from — and a limit on how many.

A record that cannot be processed is wrapped in a DeadLetter carrying the original
bytes (base64) and its topic/partition/offset, so it can be inspected and replayed.
``DeadLetters`` publishes them, waiting out Kafka trouble: a record is acked only once
its letter is on the broker. ``DlqLimit`` stops the worker when most recent records
fail: a broken deployment should page someone instead of quietly draining a topic
into the DLQ.
"""

from __future__ import annotations

import base64
import logging
import traceback
from collections import deque
from dataclasses import dataclass, field

from streams.clock import utc_now
from streams.errors import NewsstreamError
from streams.messages import DeadLetter, dumps
from streams.retry import INFRASTRUCTURE, RetryPolicy, retry, transient_wait
from streams.worker.produce import Output, Producer, publish

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record was read: what a dead letter must carry to find and replay it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None  # the record's Kafka timestamp, seconds since the epoch


# Kafka refuses records over 1 MB by default; base64 adds a third. Larger originals are
# cut (and flagged) so the dead letter itself can always be written.
MAX_ORIGINAL_BYTES = 512 * 1024


def dead_letter(
    *,
    error: BaseException,
    stage: str,
    topic: str,
    partition: int,
    offset: int,
    original: bytes | None,
    failed_at: str,
) -> DeadLetter:
    original = original or b""
    truncated = len(original) > MAX_ORIGINAL_BYTES
    return DeadLetter(
        reason=reason_of(error),
        error_type=type(error).__name__,
        stage=stage,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        original=base64.b64encode(original[:MAX_ORIGINAL_BYTES]).decode("ascii"),
        failed_at=failed_at,
        original_truncated=truncated,
        original_size=len(original),
    )


# A traceback is kept whole up to here; beyond, its end (where it was raised) is kept.
MAX_REASON_CHARS = 8_000


def reason_of(error: BaseException) -> str:
    """The operator's line for a letter; an unexpected error carries its traceback."""
    if isinstance(error, NewsstreamError):
        return str(error) or type(error).__name__
    trace = "".join(traceback.format_exception(error))[-MAX_REASON_CHARS:]
    return f"unexpected {type(error).__name__} (a bug: please report it): {error}\n{trace}"


@dataclass
class DeadLetters:
    """Publishes dead letters; returns only once the broker has the letter."""

    producer: Producer
    policy: RetryPolicy = INFRASTRUCTURE

    async def send(
        self,
        topic: str,
        origin: Origin,
        error: BaseException,
        *,
        stage: str,
        article_id: str | None = None,
    ) -> None:
        letter = dead_letter(
            error=error,
            stage=stage,
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
            original=origin.value,
            failed_at=utc_now(),
        )
        log.warning(
            "dead-lettered %s[%d]@%d at %s: %s",
            origin.topic,
            origin.partition,
            origin.offset,
            stage,
            letter.reason.splitlines()[0],
            extra={
                "article_id": article_id,
                "stage": stage,
                "topic": origin.topic,
                "partition": origin.partition,
                "offset": origin.offset,
            },
        )
        output = Output(topic, origin.key, dumps(letter))
        await retry(
            lambda: self._publish(output),
            policy=self.policy,
            wait_hint=transient_wait,
            what=f"dead letter to {topic}",
        )

    async def _publish(self, output: Output) -> None:
        [outcome] = await publish(self.producer, [[output]])
        if outcome is not None:
            raise outcome


class DlqLimitExceeded(NewsstreamError):
    """Too many records of the recent window failed; the worker stops."""


@dataclass(slots=True)
class DlqLimit:
    """Tracks the share of failed records over the last ``window`` records."""

    max_ratio: float
    window: int
    _recent: deque[bool] = field(init=False)

    def __post_init__(self) -> None:
        self._recent = deque(maxlen=self.window)

    def record(self, *, failed: bool) -> None:
        self._recent.append(failed)
        if len(self._recent) < self.window:
            return
        ratio = sum(self._recent) / len(self._recent)
        if ratio >= self.max_ratio:
            raise DlqLimitExceeded(
                f"{ratio:.0%} of the last {self.window} records went to the DLQ "
                f"(limit {self.max_ratio:.0%}); stopping: inspect the DLQ topic and the "
                "worker log, fix the cause, then restart"
            )
