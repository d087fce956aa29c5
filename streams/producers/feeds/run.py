"""Running the poller until stopped: each feed at its interval, failing feeds backed off.

``PollSchedule`` says when (a small frozen policy on the project's ``RetryPolicy``);
``run_poller`` loops over the feeds of a ``FeedsHolder``, reloading the file when it
changes, until a ``threading.Event`` is set (``stop_on_signals``: SIGTERM, SIGINT);
``run_service`` is that loop with its web pages (``newsstream poll``).

The loop itself only schedules: the polls run on a pool of ``concurrency`` threads, so a
slow feed holds up nobody. Feeds due together start together, the most overdue first,
but never two of one host at once (politeness; their item pages are spaced by the
poller's ``HostThrottle`` across threads) and never two polls of one feed: a feed in
flight is not due again until its poll is done, so its state has a single writer and no
id is published twice. A failed poll's backoff (failures in a row, when to try again) is
written to the state topic: a restarted poller waits it out instead of polling at once.
A feed taken out of the file is no longer scheduled; its state stays (``Poller.states``
and the topic), so adding it back publishes nothing it published before.
"""

from __future__ import annotations

import logging
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from streams.errors import ConfigError, StackError
from streams.producers.feeds.config import FeedConfig, FeedsHolder
from streams.producers.feeds.fetching import host_of
from streams.producers.feeds.poller import FeedReport, Poller, log_report
from streams.producers.feeds.state import FeedState
from streams.producers.feeds.telemetry import PollHealth, PollTelemetry
from streams.producers.feeds.web import serve_pages
from streams.retry import RetryPolicy
from streams.settings import Settings

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

    def first_poll_in(
        self, feed: FeedConfig, state: FeedState, wall_now: float, rng: random.Random
    ) -> float:
        """Seconds until a feed's first poll since start (or since it was added): what is
        left of a backoff recorded before (at most the longest backoff, whatever the
        clocks say), else a moment within ``start_spread``."""
        if state.retry_at is not None and state.retry_at > wall_now:
            return min(state.retry_at - wall_now, self.backoff.max_delay)
        return rng.uniform(0, min(feed.interval, self.start_spread))


def plan(
    due: Mapping[str, float], now: float, busy_hosts: set[str], slots: int
) -> tuple[list[str], float]:
    """The feeds to start now, the most overdue first: at most ``slots``, one per host and
    none of a host in ``busy_hosts``; and the seconds until the next feed comes due (inf:
    none). A due feed left waiting for a slot or its host waits for a poll to finish."""
    start: list[str] = []
    hosts = set(busy_hosts)
    for url, at in sorted(due.items(), key=lambda item: item[1]):
        if at > now:
            return start, (math.inf if at == math.inf else at - now)
        host = host_of(url)
        if len(start) < slots and host not in hosts:
            start.append(url)
            hosts.add(host)
    return start, math.inf


def poll_feed(
    poller: Poller,
    feed: FeedConfig,
    *,
    schedule: PollSchedule,
    rng: random.Random,
    telemetry: PollTelemetry,
    wall: Callable[[], float] = time.time,
) -> float:
    """One poll on a pool thread: poll, record a failure's backoff, report; the seconds
    until the feed's next poll."""
    try:
        report = poller.poll(feed)
    except StackError as exc:
        report = FeedReport(feed, error=str(exc), kafka_ok=False)
    except Exception as exc:  # a bug met by one feed must not stop the others: logged
        log.exception("feed %s: unexpected error", feed.label)
        report = FeedReport(feed, error=f"unexpected error: {exc!r}")
    log_report(report)
    failures = poller.state_of(feed.url).failures + 1 if report.error else 0
    delay = schedule.next_poll_in(feed, report, failures, rng)
    if report.error:
        try:
            poller.record_failure(feed.url, retry_at=wall() + delay)
        except StackError as exc:
            log.error("feed %s: its backoff is kept in memory only: %s", feed.label, exc)
            report.kafka_ok = False
        else:
            report.kafka_ok = report.kafka_ok is not False
    telemetry.finished(report, failures=failures, next_poll_at=wall() + delay, now=wall())
    return delay


def run_poller(
    poller: Poller,
    holder: FeedsHolder,
    *,
    stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    schedule: PollSchedule = PollSchedule(),
    rng: random.Random | None = None,
    concurrency: int = 1,
    telemetry: PollTelemetry | None = None,
) -> None:
    """Poll every feed at its interval until ``stop`` is set, up to ``concurrency`` at a
    time; the feeds file is re-read when it changes. Feed errors and Kafka trouble back
    the feed off and the loop goes on. Polls in flight when stopped are finished."""
    if concurrency < 1:
        raise ConfigError("the poller needs a concurrency of at least 1")
    rng = rng or random.Random()
    telemetry = telemetry or PollTelemetry(PollHealth(stuck_after=300.0, clock=clock))
    due: dict[str, float] = {}  # url -> when (clock); inf while its poll runs
    running: dict[Future[float], FeedConfig] = {}
    feeds: dict[str, FeedConfig] = {}
    last_reload = clock()
    with ThreadPoolExecutor(concurrency, thread_name_prefix="poll") as pool:
        while not stop.is_set():
            if clock() - last_reload >= schedule.reload_every:
                holder.reload_if_changed()
                last_reload = clock()
            before, feeds = feeds, {feed.url: feed for feed in holder.current}
            telemetry.turned(len(feeds))
            for url in feeds.keys() - due.keys():
                state = poller.state_of(url)
                due[url] = clock() + schedule.first_poll_in(feeds[url], state, wall(), rng)
                telemetry.scheduled(feeds[url], state.failures, wall() + due[url] - clock())
            for url in due.keys() - feeds.keys():
                del due[url]
                telemetry.forget(before[url])
            for future in [f for f in running if f.done()]:
                feed = running.pop(future)
                if feed.url in due:  # else taken out of the file meanwhile
                    due[feed.url] = clock() + future.result()
            busy = {host_of(feed.url) for feed in running.values()}
            start, wake_in = plan(due, clock(), busy, concurrency - len(running))
            for url in start:
                due[url] = math.inf
                telemetry.started(feeds[url])
                task = pool.submit(
                    poll_feed,
                    poller,
                    feeds[url],
                    schedule=schedule,
                    rng=rng,
                    telemetry=telemetry,
                    wall=wall,
                )
                running[task] = feeds[url]
            timeout = 0.0 if start else min(wake_in, schedule.reload_every)
            if running:
                wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            else:
                stop.wait(timeout)


def run_service(
    poller: Poller, holder: FeedsHolder, settings: Settings, *, stop: threading.Event
) -> None:
    """``newsstream poll``: the loop with ``settings.poll_concurrency``, and its /metrics,
    /healthz and /readyz on ``settings.poll_web_port`` (0: none) while it runs."""
    telemetry = PollTelemetry(PollHealth(stuck_after=settings.poll_stuck_seconds))
    pages = None
    if settings.poll_web_port:
        pages = serve_pages(telemetry, host="0.0.0.0", port=settings.poll_web_port)
        log.info(
            "newsstream poll: /metrics, /healthz, /readyz on http://0.0.0.0:%d",
            settings.poll_web_port,
        )
    try:
        run_poller(
            poller,
            holder,
            stop=stop,
            concurrency=settings.poll_concurrency,
            telemetry=telemetry,
        )
    finally:
        if pages is not None:
            pages.shutdown()
            pages.server_close()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (call from the main thread)."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        log.info("stopping on signal %d", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop
