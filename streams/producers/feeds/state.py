"""The poller's memory: per feed, its HTTP validators and the ids of the items published.

Kept in the compacted topic ``settings.topic_poller_state`` (key = feed URL, value = the
JSON of ``FeedState``), not in a local file, so a rescheduled poller carries on where the
last one stopped: ``read_states`` consumes the topic from the beginning to its end at
start-up, and the poller writes a feed's state after the broker acknowledged the articles
it records. Compaction keeps the latest state per feed. The poller never writes a tombstone
(null value, which would forget a feed): a feed taken out of the feeds file keeps its
state, so adding it back publishes nothing it published before. A failing feed's backoff
(consecutive failures, when to try again: wall-clock time, as it must survive a restart)
is kept here too, so a restart does not hammer a feed that is down. The seen ids are
bounded (the newest ``SEEN_LIMIT``): an item older than that which comes back is
published again, and its deterministic id makes that an overwrite downstream.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from streams.errors import InvalidRecord, StackError
from streams.kafka.connection import KafkaConnection
from streams.kafka.reading import read_to_end

SEEN_LIMIT = 1000
_VERSION = 1


@dataclass(frozen=True, slots=True)
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    seen: tuple[str, ...] = ()  # article ids, oldest first
    failures: int = 0  # consecutive failed polls; 0 after a good one
    retry_at: float | None = None  # epoch seconds: not polled before then (backoff)

    def recorded(
        self,
        ids: Iterable[str],
        *,
        etag: str | None,
        last_modified: str | None,
        limit: int = SEEN_LIMIT,
    ) -> FeedState:
        """This state after ``ids`` were published from a response with these validators."""
        known = set(self.seen)
        fresh = [i for i in dict.fromkeys(ids) if i not in known]
        seen = (*self.seen, *fresh)[-limit:] if limit > 0 else ()
        return replace(self.succeeded(), etag=etag, last_modified=last_modified, seen=seen)

    def succeeded(self) -> FeedState:
        """This state after a good poll: no backoff."""
        return replace(self, failures=0, retry_at=None)

    def failed(self, *, retry_at: float) -> FeedState:
        """This state after one more failed poll, backed off until ``retry_at``."""
        return replace(self, failures=self.failures + 1, retry_at=retry_at)


def encode_state(state: FeedState) -> bytes:
    return orjson.dumps(
        {
            "version": _VERSION,
            "url": state.url,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "seen": list(state.seen),
            "failures": state.failures,
            "retry_at": state.retry_at,
        }
    )


def decode_state(key: bytes | str, value: bytes) -> FeedState:
    """The state stored under ``key``; InvalidRecord when the value is not one."""
    url = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    try:
        data: Any = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord(f"poller state for {url} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        raise InvalidRecord(f"poller state for {url} is not a version {_VERSION} state")
    seen, etag, modified = data.get("seen"), data.get("etag"), data.get("last_modified")
    if not isinstance(seen, list) or not all(isinstance(i, str) for i in seen):
        raise InvalidRecord(f"poller state for {url}: 'seen' is not a list of ids")
    if not all(v is None or isinstance(v, str) for v in (etag, modified)):
        raise InvalidRecord(f"poller state for {url}: validators are not strings")
    # Absent in states written before backoff was kept: no backoff.
    failures, retry_at = data.get("failures", 0), data.get("retry_at")
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < 0:
        raise InvalidRecord(f"poller state for {url}: 'failures' is not a count")
    if retry_at is not None and (
        isinstance(retry_at, bool) or not isinstance(retry_at, int | float)
    ):
        raise InvalidRecord(f"poller state for {url}: 'retry_at' is not a time")
    return FeedState(
        url=url,
        etag=etag,
        last_modified=modified,
        seen=tuple(seen),
        failures=failures,
        retry_at=None if retry_at is None else float(retry_at),
    )


# --- Kafka at the edge ----------------------------------------------------------------------


def read_states(
    connection: KafkaConnection, topic: str, *, idle_timeout: float = 30.0
) -> tuple[dict[str, FeedState], list[str]]:
    """Every feed's latest state, read from the beginning of ``topic`` to its end offsets.

    Returns the states and the problems met (a record that is not a state is skipped: its
    feed starts afresh, which re-publishes nothing the worker has not seen as the same id).
    """
    states: dict[str, FeedState] = {}
    problems: list[str] = []
    records = read_to_end(
        connection, [topic], client_id="newsstream-poll", idle_timeout=idle_timeout
    )
    for record in records:
        if not record.key:
            continue
        url = record.key.decode("utf-8", "replace")
        if record.value is None:  # a tombstone: the feed was forgotten
            states.pop(url, None)
            continue
        try:
            states[url] = decode_state(url, record.value)
        except InvalidRecord as exc:
            states.pop(url, None)
            problems.append(str(exc))
    return states, problems


@dataclass
class KafkaStateStore:
    """Writes a feed's state to the compacted topic and waits for the broker's ack."""

    producer: KafkaProducer
    topic: str

    def save(self, state: FeedState) -> None:
        try:
            future = self.producer.send(
                self.topic, key=state.url.encode(), value=encode_state(state)
            )
            self.producer.flush()
            future.get(timeout=30)
        except KafkaError as exc:
            raise StackError(
                f"Kafka did not accept the poller state for {state.url}: {exc}"
            ) from exc
