"""Running the poller until stopped: each feed at its interval, failing feeds backed off.

``PollSchedule`` says when (a small frozen policy on the project's ``RetryPolicy``);
``run_poller`` loops over the feeds of a ``FeedsHolder``, reloading the file when it
changes, until a ``threading.Event`` is set (``stop_on_signals``: SIGTERM, SIGINT).
Feeds are polled one at a time: a slow feed delays the others by at most its timeout.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from streams.errors import ConfigError, StackError
from streams.producers.feeds.config import FeedConfig, FeedsHolder
from streams.producers.feeds.poller import FeedReport, Poller, log_report
from streams.retry import RetryPolicy

log = logging.getLogger(__name__)

# A failing feed: 30 s doubling to an hour, at least what Retry-After asks (up to the hour).
FEED_BACKOFF = RetryPolicy(base_delay=30.0, max_delay=3600.0)


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """When ``run_poller`` polls: each feed's interval ± ``jitter``; a failing feed after
    ``backoff.delay(failures, at_least=Retry-After)``; the first polls spread over
    ``start_spread`` seconds; the feeds file looked at every ``reload_every`` seconds."""

    backoff: RetryPolicy = FEED_BACKOFF
    jitter: float = 0.1
    start_spread: float = 10.0
    reload_every: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.jitter < 1 or self.start_spread < 0 or self.reload_every <= 0:
            raise ConfigError(
                "a poll schedule needs 0 <= jitter < 1, start_spread >= 0, reload_every > 0"
            )

    def next_poll_in(
        self, feed: FeedConfig, report: FeedReport, failures: int, rng: random.Random
    ) -> float:
        """Seconds until the next poll of ``feed``: its interval with jitter, or the backoff."""
        if report.error:
            return self.backoff.delay(failures, at_least=report.retry_after)
        return feed.interval * rng.uniform(1 - self.jitter, 1 + self.jitter)


def run_poller(
    poller: Poller,
    holder: FeedsHolder,
    *,
    stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
    schedule: PollSchedule = PollSchedule(),
    rng: random.Random | None = None,
) -> None:
    """Poll every feed at its interval until ``stop`` is set; the feeds file is re-read
    when it changes. Feed errors and Kafka trouble back the feed off and the loop goes on."""
    rng = rng or random.Random()
    due: dict[str, float] = {}
    failures: dict[str, int] = {}
    last_reload = clock()
    while not stop.is_set():
        if clock() - last_reload >= schedule.reload_every:
            holder.reload_if_changed()
            last_reload = clock()
        feeds = {feed.url: feed for feed in holder.current}
        for url in feeds.keys() - due.keys():
            due[url] = clock() + rng.uniform(0, min(feeds[url].interval, schedule.start_spread))
        for url in due.keys() - feeds.keys():
            del due[url]
        first = min(due, key=due.__getitem__, default=None)
        wait = schedule.reload_every if first is None else due[first] - clock()
        if first is None or wait > 0:
            stop.wait(min(wait, schedule.reload_every))
            continue
        feed = feeds[first]
        try:
            report = log_report(poller.poll(feed))
        except StackError as exc:
            report = FeedReport(feed, error=str(exc))
            log.error("feed %s: %s", feed.url, exc)
        failures[first] = failures.get(first, 0) + 1 if report.error else 0
        due[first] = clock() + schedule.next_poll_in(feed, report, failures[first], rng)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (call from the main thread)."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        log.info("stopping on signal %d", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop
