"""What the running poller tells Prometheus and its probes (served by feeds/web.py).

A registry of its own (as the worker and the API have), so tests can build several.
Feeds are named by ``FeedConfig.label``: the URL as written in the feeds file, so a
``${TOKEN}`` in a URL stays out of the metrics.

Liveness is about the loop and the polls moving, not about feeds answering: the loop goes
round at least every ``PollSchedule.reload_every`` seconds, and every poll is bounded by
HTTP timeouts and Kafka's acknowledgement wait. ``/healthz`` fails when the loop has not
gone round, or one poll has been running, for ``stuck_after`` seconds (the container is
restarted then). ``/readyz`` fails while Kafka did not take the poller's last write (a
publish or a state), until one succeeds again: the poller keeps running and backs the
feed off meanwhile.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.producers.feeds.config import FeedConfig
from streams.producers.feeds.poller import FeedReport

# Seconds for one feed's GET: from a fast 304 to the 15 s timeout (30 s for the body).
_FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def outcome(report: FeedReport) -> str:
    """``error``, ``not_modified`` or ``new`` (a 200: new items or not)."""
    if report.error:
        return "error"
    return "not_modified" if report.not_modified else "new"


class PollMetrics:
    """The poller's Prometheus metrics, in one registry."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        feed = ["feed"]
        self.polls = Counter(
            "newsstream_poll_polls",
            "Polls, by feed and outcome (new, not_modified, error).",
            ["feed", "outcome"],
            registry=r,
        )
        self.published = Counter(
            "newsstream_poll_items_published", "Items Kafka acknowledged.", feed, registry=r
        )
        self.skipped = Counter(
            "newsstream_poll_items_skipped",
            "Items not published as seen before (or twice in one answer).",
            feed,
            registry=r,
        )
        self.invalid = Counter(
            "newsstream_poll_items_invalid", "Items without usable text.", feed, registry=r
        )
        self.fetch_duration = Histogram(
            "newsstream_poll_fetch_duration_seconds",
            "Time of the feed's GET, by feed.",
            feed,
            buckets=_FETCH_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "newsstream_poll_last_success_timestamp_seconds",
            "When the feed was last polled without error (Unix time).",
            feed,
            registry=r,
        )
        self.failures = Gauge(
            "newsstream_poll_consecutive_failures",
            "Failed polls in a row (0: the feed is fine; more: it is backed off).",
            feed,
            registry=r,
        )
        self.next_poll = Gauge(
            "newsstream_poll_next_poll_timestamp_seconds",
            "When the feed is polled next (Unix time): its interval, or its backoff.",
            feed,
            registry=r,
        )
        self.feeds = Gauge("newsstream_poll_feeds", "Feeds in the feeds file.", registry=r)
        self.in_flight = Gauge("newsstream_poll_in_flight", "Polls running now.", registry=r)
        self.kafka_ready = Gauge(
            "newsstream_poll_kafka_ready", "1 while Kafka took the last write.", registry=r
        )


@dataclass
class PollHealth:
    """What /healthz and /readyz answer from; updated by the loop and its poll threads."""

    stuck_after: float
    clock: Callable[[], float] = time.monotonic
    turned_at: float = field(init=False)
    polling: dict[str, float] = field(default_factory=dict)  # feed label -> when it started
    kafka_ok: bool = True  # the poller read its state from Kafka before it started
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.turned_at = self.clock()

    def turned(self) -> None:
        self.turned_at = self.clock()

    def started(self, label: str) -> None:
        with self._lock:
            self.polling[label] = self.clock()

    def finished(self, label: str) -> None:
        with self._lock:
            self.polling.pop(label, None)

    def not_live_because(self) -> list[str]:
        now = self.clock()
        reasons = []
        if now - self.turned_at > self.stuck_after:
            reasons.append(f"the poll loop has not gone round for {now - self.turned_at:.0f} s")
        with self._lock:
            polling = dict(self.polling)
        reasons += [
            f"feed {label} has been polling for {now - since:.0f} s"
            for label, since in polling.items()
            if now - since > self.stuck_after
        ]
        return reasons

    def not_ready_because(self) -> list[str]:
        return [] if self.kafka_ok else ["Kafka did not take the poller's last write"]


@dataclass
class PollTelemetry:
    """The loop's view of metrics and health."""

    health: PollHealth
    metrics: PollMetrics = field(default_factory=PollMetrics)

    def __post_init__(self) -> None:
        self.metrics.in_flight.set_function(lambda: len(self.health.polling))
        self.metrics.kafka_ready.set_function(lambda: float(self.health.kafka_ok))

    def turned(self, feeds: int) -> None:
        self.health.turned()
        self.metrics.feeds.set(feeds)

    def started(self, feed: FeedConfig) -> None:
        self.health.started(feed.label)

    def kafka(self, ok: bool | None) -> None:
        if ok is not None:
            self.health.kafka_ok = ok

    def finished(
        self, report: FeedReport, *, failures: int, next_poll_at: float, now: float
    ) -> None:
        """One poll done: ``failures`` in a row now, polled again at ``next_poll_at``."""
        label, m = report.feed.label, self.metrics
        self.health.finished(label)
        self.kafka(report.kafka_ok)
        m.polls.labels(label, outcome(report)).inc()
        m.published.labels(label).inc(report.published)
        m.skipped.labels(label).inc(report.skipped)
        m.invalid.labels(label).inc(report.invalid)
        if report.fetch_seconds:
            m.fetch_duration.labels(label).observe(report.fetch_seconds)
        if not report.error:
            m.last_success.labels(label).set(now)
        self.scheduled(report.feed, failures, next_poll_at)

    def scheduled(self, feed: FeedConfig, failures: int, next_poll_at: float) -> None:
        self.metrics.failures.labels(feed.label).set(failures)
        self.metrics.next_poll.labels(feed.label).set(next_poll_at)

    def forget(self, feed: FeedConfig) -> None:
        """A feed left the feeds file: its gauges go (a stale backoff would alert)."""
        for gauge in (self.metrics.last_success, self.metrics.failures, self.metrics.next_poll):
            with contextlib.suppress(KeyError):  # never polled
                gauge.remove(feed.label)
