"""Dead letters: what failed, why, and where it came from — and a limit on how many.

A record that cannot be processed is wrapped in a DeadLetter carrying the original
bytes (base64) and its topic/partition/offset, so it can be inspected and replayed.
``DlqLimit`` stops the worker when most recent records fail: a broken deployment
should page someone instead of quietly draining a topic into the DLQ.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass, field

from streams.errors import NewsstreamError
from streams.messages.models import DeadLetter

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
        reason=str(error) or type(error).__name__,
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
