"""Dead letters read back: count and show what is on the DLQ topics, replay the originals.

The worker writes a dead letter (``streams.messages.DeadLetter``) to ``articles.dlq`` or
``alerts.dlq`` with the original record's key as the letter's key and the original bytes
in base64. Here:

- ``read_dlq`` reads DLQ topics from their beginning up to the end offsets found at the
  start (no consumer group, nothing committed) and ``decode`` turns each record into a
  ``Letter``, or an ``Unreadable`` when it is not a dead letter: one bad record on a DLQ
  topic is counted, it never stops the reading.
- ``Filters`` (stage, reason, failed-at window) and ``select`` choose letters; ``summarize``
  counts them by stage and by reason and keeps a few samples (pure).
- ``replays_of`` says what replaying one letter publishes (pure): its original bytes and
  key to its source topic; a digest's alerts one record each; nothing for a truncated
  original. ``replay`` runs it over the letters with an injected ``publish``;
  ``KafkaPublisher`` is the real one.

Replays are idempotent downstream: an article's id comes from its content, so it
overwrites its Elasticsearch document, and an alert's id is (rule, story), recorded in
``news-alerts`` before delivery, so an alert already handled is not sent twice.
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from tqdm import tqdm

from streams.errors import InvalidRecord, StackError
from streams.kafka.connection import KafkaConnection
from streams.kafka.reading import read_to_end
from streams.messages import DeadLetter, alert_from_json, dead_letter_from_json, dumps, loads

# deliver_alerts.send_due_digests: a digest gathers alerts from many offsets.
DIGEST_PARTITION = -1
REASON_WIDTH = 100
SAMPLE_BYTES = 80


@dataclass(frozen=True, slots=True)
class Letter:
    """A dead letter as read from its topic; ``key`` is the original record's key."""

    where: str  # the letter's own place, "articles.dlq[0]@12"
    key: bytes | None
    letter: DeadLetter
    original: bytes  # decoded from base64

    @property
    def origin(self) -> str:
        dead = self.letter
        return f"{dead.source_topic}[{dead.source_partition}]@{dead.source_offset}"

    @property
    def is_digest(self) -> bool:
        return self.letter.source_partition == DIGEST_PARTITION


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A record on a DLQ topic that is not a dead letter."""

    where: str
    error: str


def decode(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
) -> Letter | Unreadable:
    where = f"{topic}[{partition}]@{offset}"
    try:
        letter = dead_letter_from_json(value or b"")
        original = base64.b64decode(letter.original, validate=True)
    except InvalidRecord as exc:
        return Unreadable(where, str(exc))
    except binascii.Error as exc:
        return Unreadable(where, f"field 'original' is not base64: {exc}")
    return Letter(where, key, letter, original)


@dataclass(frozen=True, slots=True)
class Filters:
    """Which letters to take; every given condition must hold. ``until`` is exclusive."""

    stage: str | None = None
    reason: str | None = None  # a substring of the error type or reason, any case
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        if self.stage is not None and letter.stage != self.stage:
            return False
        text = f"{letter.error_type}: {letter.reason}".casefold()
        if self.reason is not None and self.reason.casefold() not in text:
            return False
        return self._in_window(letter.failed_at)

    def _in_window(self, failed_at: str) -> bool:
        if self.since is None and self.until is None:
            return True
        when = parse_time(failed_at)
        if when is None:  # no time to compare: a time window cannot take it
            return False
        return (self.since is None or when >= self.since) and (
            self.until is None or when < self.until
        )


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time, in UTC when it names no zone; None when it is not one."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def select(letters: Iterable[Letter], filters: Filters) -> Iterator[Letter]:
    return (letter for letter in letters if filters.matches(letter.letter))


def short_reason(reason: str, width: int = REASON_WIDTH) -> str:
    """A reason's first line, cut to ``width`` characters."""
    first = reason.strip().splitlines()[0].strip() if reason.strip() else "(no reason)"
    return first if len(first) <= width else first[: width - 1] + "…"


@dataclass(frozen=True, slots=True)
class Summary:
    letters: int  # dead letters read
    selected: int
    by_stage: Counter[str]
    by_reason: Counter[str]
    samples: tuple[Letter, ...]
    unreadable: int
    unreadable_samples: tuple[Unreadable, ...]


def summarize(
    items: Iterable[Letter | Unreadable], filters: Filters, *, samples: int = 3
) -> Summary:
    """Count the selected letters by stage and reason; keep the first ``samples``."""
    letters = selected = unreadable = 0
    by_stage: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    kept: list[Letter] = []
    bad: list[Unreadable] = []
    for item in items:
        if isinstance(item, Unreadable):
            unreadable += 1
            if len(bad) < samples:
                bad.append(item)
            continue
        letters += 1
        if not filters.matches(item.letter):
            continue
        selected += 1
        by_stage[item.letter.stage] += 1
        by_reason[short_reason(item.letter.reason)] += 1
        if len(kept) < samples:
            kept.append(item)
    return Summary(letters, selected, by_stage, by_reason, tuple(kept), unreadable, tuple(bad))


def format_summary(summary: Summary, topics: Sequence[str]) -> list[str]:
    lines = [
        f"{', '.join(topics)}: {summary.letters} dead letters, {summary.selected} selected, "
        f"{summary.unreadable} unreadable"
    ]
    for title, counts in (("by stage", summary.by_stage), ("by reason", summary.by_reason)):
        lines += ["", f"{title}:"] + [f"{n:>7}  {key}" for key, n in counts.most_common()]
    if summary.samples:
        lines += ["", "samples:"]
    for sample in summary.samples:
        dead = sample.letter
        lines += [
            f"  {sample.origin}  failed {dead.failed_at}  stage {dead.stage}  ({sample.where})",
            f"    reason:   {dead.error_type}: {short_reason(dead.reason)}",
            f"    original: {preview(sample.original)}  ({describe_size(dead)})",
        ]
    if summary.unreadable_samples:
        lines += ["", "unreadable (records on the DLQ that are not dead letters):"]
        lines += [f"  {bad.where}: {short_reason(bad.error)}" for bad in summary.unreadable_samples]
    return lines


def preview(original: bytes, size: int = SAMPLE_BYTES) -> str:
    """The first bytes as text; bytes that are not UTF-8 and control characters escaped."""
    text = original[:size].decode("utf-8", "backslashreplace")
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return shown + ("…" if len(original) > size else "")


def describe_size(letter: DeadLetter) -> str:
    if letter.original_truncated:
        return f"truncated, {letter.original_size:,} bytes in all"
    return f"{letter.original_size:,} bytes"


# --- replay -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replay:
    """One record to publish again."""

    topic: str
    key: bytes | None
    value: bytes


class Skip(StrEnum):
    TRUNCATED = "original truncated when dead-lettered: it cannot be replayed whole"
    BAD_DIGEST = "digest whose alerts cannot be read"


def replays_of(letter: Letter) -> list[Replay] | Skip:
    """What replaying ``letter`` publishes: the original bytes with the original key.

    A digest letter holds a JSON array of the alerts one failed digest message carried;
    each alert goes back to the alerts topic as its own record keyed by its id, exactly
    as match-alerts publishes it, so the worker takes it like a new match (deduplicated by
    the alert id, throttled or digested by its rule as the rule is now).
    """
    dead = letter.letter
    if dead.original_truncated:
        return Skip.TRUNCATED
    if not letter.is_digest:
        return [Replay(dead.source_topic, letter.key, letter.original)]
    try:
        items = loads(letter.original)
        alerts = [alert_from_json(item) for item in items] if isinstance(items, list) else None
    except InvalidRecord:
        alerts = None
    if alerts is None:
        return Skip.BAD_DIGEST
    return [Replay(dead.source_topic, a.alert_id.encode(), dumps(a)) for a in alerts]


@dataclass(slots=True)
class ReplayReport:
    letters: int = 0  # selected letters
    published: Counter[str] = field(default_factory=Counter)  # records by topic
    skipped: Counter[Skip] = field(default_factory=Counter)
    digests: int = 0
    digest_alerts: int = 0
    alerts: int = 0  # records replayed from deliver-alerts letters
    unreadable: int = 0


def replay(
    items: Iterable[Letter | Unreadable],
    filters: Filters,
    *,
    publish: Callable[[Replay], None] | None,
    progress: bool = False,
) -> ReplayReport:
    """Publish the selected letters' originals (``publish=None``: only count them)."""
    report = ReplayReport()
    bar = tqdm(unit=" letters", disable=not progress, file=sys.stderr)
    with bar:
        for item in items:
            if isinstance(item, Unreadable):
                report.unreadable += 1
                continue
            if not filters.matches(item.letter):
                continue
            report.letters += 1
            bar.update()
            outcome = replays_of(item)
            if isinstance(outcome, Skip):
                report.skipped[outcome] += 1
                continue
            if item.is_digest:
                report.digests += 1
                report.digest_alerts += len(outcome)
            if item.letter.stage == "deliver-alerts":
                report.alerts += len(outcome)
            for record in outcome:
                report.published[record.topic] += 1
                if publish is not None:
                    publish(record)
    return report


def format_replay(report: ReplayReport, *, dry_run: bool) -> list[str]:
    verb = "would publish" if dry_run else "published"
    lines = [f"{report.letters} dead letters selected"]
    lines += [
        f"{verb} {n} record{'s' * (n != 1)} to {topic}"
        for topic, n in sorted(report.published.items())
    ]
    if not report.published:
        lines.append(f"{verb} nothing")
    if report.digests:
        lines.append(
            f"{report.digests} of them digests: their {report.digest_alerts} alerts "
            "replayed one record each"
        )
    lines += [f"skipped {n}: {skip.value}" for skip, n in report.skipped.items()]
    if report.unreadable:
        lines.append(f"{report.unreadable} unreadable records on the DLQ (not dead letters)")
    if report.alerts:
        lines.append(
            "note: the worker does not send an alert again once news-alerts records it as "
            "failed, unconfirmed or sent; delete such an alert's record there to have it sent"
        )
    return lines


# --- Kafka at the edge ----------------------------------------------------------------------


def read_dlq(
    connection: KafkaConnection, topics: Sequence[str], *, idle_timeout: float = 30.0
) -> Iterator[Letter | Unreadable]:
    """Every record of ``topics`` from the beginning to the end offsets at the start.

    No consumer group, nothing committed. Raises StackError when Kafka cannot be reached,
    a topic does not exist, or no record comes for ``idle_timeout`` seconds before the end.
    """
    for r in read_to_end(connection, topics, client_id="newsstream-dlq", idle_timeout=idle_timeout):
        yield decode(r.topic, r.partition, r.offset, r.key, r.value)


@dataclass
class KafkaPublisher:
    """``publish`` for ``replay``: sends with kafka-python; ``finish`` waits for every ack."""

    producer: KafkaProducer
    _pending: list[tuple[str, Any]] = field(default_factory=list)

    def __call__(self, record: Replay) -> None:
        try:
            future = self.producer.send(record.topic, key=record.key, value=record.value)
        except KafkaError as exc:
            raise StackError(f"Kafka did not take a record for {record.topic}: {exc}") from exc
        self._pending.append((record.topic, future))

    def finish(self) -> None:
        self.producer.flush()
        for topic, future in self._pending:
            try:
                future.get(timeout=30)
            except KafkaError as exc:
                raise StackError(f"Kafka did not accept a record for {topic}: {exc}") from exc
        self._pending.clear()
