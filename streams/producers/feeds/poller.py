"""``newsstream poll``: RSS and Atom feeds onto ``articles.raw``.

One poll of one feed (``Poller.poll``), in order:

0. Ask the host's robots.txt (streams.producers.feeds.robots); a disallowed feed fails the
   poll with the reason and is not fetched.
1. GET the feed, conditional on the ETag / Last-Modified of the last good poll; a 304 ends
   the poll (streams.producers.feeds.fetching).
2. Parse it and turn each entry into a raw article with the stable id every producer
   gives (streams.producers.feeds.items); entries without usable text are counted
   invalid, entries whose id was published before (or twice in this feed) are skipped.
3. With ``fetch_pages``, GET each new item's page that robots.txt allows, at most once
   a second per host (across concurrent polls); the page's HTML goes into ``html`` for
   the worker to extract, the feed's text stays as the fallback. A page that fails (or
   is disallowed) is logged and the item goes out with the feed's text.
4. Publish the new articles (acks=all) and wait until the broker acknowledged each.
5. Only then record their ids and the response's validators in the feed's state and write
   it to the compacted state topic (streams.producers.feeds.state). A crash between 4 and
   5 publishes the items again on the next poll: the same ids, so an overwrite downstream.

Feed trouble (HTTP error, timeout, too large, malformed) ends up in the poll's report;
Kafka trouble raises StackError; in both cases nothing is recorded, and the loop
(streams.producers.feeds.run) backs the feed off and records that (``record_failure``).
Run one poller per state topic: two would each publish what the other has not recorded
yet. Within one poller, polls of different feeds may run concurrently (``poll_once``,
the loop), never two of one feed: each feed's state is only touched by its own poll.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from kafka import KafkaProducer
from kafka.errors import KafkaError

from streams.errors import FeedError, InvalidArticle, StackError
from streams.kafka.connection import KafkaConnection
from streams.messages import DEFAULT_MAX_ARTICLE_BYTES, RawArticle, dumps
from streams.producers.feeds.config import FeedConfig
from streams.producers.feeds.fetching import (
    MAX_BYTES,
    HostThrottle,
    decode_html,
    fetch,
    host_of,
    make_http_client,
)
from streams.producers.feeds.items import entry_to_article, parse_feed, with_page
from streams.producers.feeds.robots import RobotsCache
from streams.producers.feeds.state import FeedState, KafkaStateStore, read_states
from streams.producers.jsonl import make_producer
from streams.settings import Settings

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(self, articles: Sequence[RawArticle]) -> None:
        """Return once the broker acknowledged every article; raise StackError otherwise."""


class StateStore(Protocol):
    def save(self, state: FeedState) -> None:
        """Return once the state is durably stored; raise StackError otherwise."""


@dataclass
class KafkaArticlePublisher:
    producer: KafkaProducer
    topic: str

    def publish(self, articles: Sequence[RawArticle]) -> None:
        try:
            futures = [
                self.producer.send(self.topic, key=a.id.encode(), value=dumps(a)) for a in articles
            ]
            self.producer.flush()
            for future in futures:
                future.get(timeout=30)
        except KafkaError as exc:
            raise StackError(f"Kafka did not accept an article for {self.topic}: {exc}") from exc


@dataclass
class FeedReport:
    feed: FeedConfig
    published: int = 0
    skipped: int = 0  # seen before, or a repeat within the feed
    invalid: int = 0
    not_modified: bool = False
    error: str | None = None
    retry_after: float = 0.0
    fetch_seconds: float = 0.0  # the feed's GET (not its pages')
    kafka_ok: bool | None = None  # whether Kafka took this poll's writes; None: there were none


@dataclass
class Poller:
    http: httpx.Client
    publisher: Publisher
    store: StateStore
    states: dict[str, FeedState] = field(default_factory=dict)
    fetch_pages: bool = False
    throttle: HostThrottle = field(default_factory=HostThrottle)
    max_bytes: int = MAX_BYTES
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES  # NEWSSTREAM_MAX_ARTICLE_BYTES
    robots: RobotsCache | None = None  # None: one of its own, on ``http``

    def __post_init__(self) -> None:
        if self.robots is None:
            self.robots = RobotsCache(self.http)

    def state_of(self, url: str) -> FeedState:
        return self.states.get(url) or FeedState(url)

    def poll(self, feed: FeedConfig) -> FeedReport:
        """Poll ``feed`` once; feed trouble is in the report, Kafka trouble raises StackError."""
        report = FeedReport(feed)
        try:
            self._poll(feed, report)
        except FeedError as exc:
            report.error, report.retry_after = str(exc), exc.retry_after
        return report

    def record_failure(self, url: str, *, retry_at: float) -> FeedState:
        """Count one more failed poll of ``url`` and its backoff, here and in the state
        topic (so a restart keeps backing off); StackError if Kafka does not take it, and
        the count is still kept here, to be written with the next state that is."""
        state = self.state_of(url).failed(retry_at=retry_at)
        self.states[url] = state
        self.store.save(state)
        return state

    def _save(self, state: FeedState, report: FeedReport) -> None:
        self.store.save(state)
        self.states[state.url] = state
        report.kafka_ok = True

    def _poll(self, feed: FeedConfig, report: FeedReport) -> None:
        state = self.state_of(feed.url)
        assert self.robots is not None
        self.robots.check(feed.url)
        # 1. fetch, conditional on the last good poll's validators
        started = time.perf_counter()
        try:
            got = fetch(
                self.http,
                feed.url,
                headers=feed.headers,
                etag=state.etag,
                last_modified=state.last_modified,
                max_bytes=self.max_bytes,
            )
        finally:
            report.fetch_seconds = time.perf_counter() - started
        if got is None:
            report.not_modified = True
            if state.succeeded() != state:  # it was backing off: not any more
                self._save(state.succeeded(), report)
            return
        # 2. parse; sort out what is new
        parsed = parse_feed(got.body, url=got.url, content_type=got.content_type)
        seen, fresh = set(state.seen), []
        for entry in parsed.entries:
            try:
                article = entry_to_article(
                    entry,
                    feed=feed,
                    feed_language=parsed.language,
                    max_bytes=self.max_article_bytes,
                )
            except InvalidArticle as exc:
                report.invalid += 1
                log.warning("%s: an entry is not usable (%s)", feed.url, exc)
                continue
            if article.id in seen:
                report.skipped += 1
                continue
            seen.add(article.id)
            fresh.append(article)
        # 3. pages
        if self.fetch_pages:
            fresh = [self._with_page(article, feed) for article in fresh]
        # 4. publish and wait for the acks
        if fresh:
            self.publisher.publish(fresh)
            report.kafka_ok = True
        report.published = len(fresh)
        # 5. record, only now
        new_state = state.recorded(
            (a.id for a in fresh), etag=got.etag, last_modified=got.last_modified
        )
        if new_state != state:
            self._save(new_state, report)

    def _with_page(self, article: RawArticle, feed: FeedConfig) -> RawArticle:
        if not article.url:
            return article
        assert self.robots is not None
        try:
            self.robots.check(article.url)
        except FeedError as exc:
            log.info("keeping the feed's text of %s: %s", article.url, exc)
            return article
        self.throttle.wait(article.url)
        try:
            headers = page_headers(feed, article.url)
            page = fetch(self.http, article.url, headers=headers, max_bytes=self.max_bytes)
        except FeedError as exc:
            log.warning("keeping the feed's text of %s: %s", article.url, exc)
            return article
        if page is None:
            return article
        html = decode_html(page.body, page.content_type)
        paged, problem = with_page(article, html, max_bytes=self.max_article_bytes)
        if problem:
            log.warning("keeping the feed's text of %s: %s", article.url, problem)
        return paged


def page_headers(feed: FeedConfig, page_url: str) -> Mapping[str, str]:
    """The feed's headers (credentials, often) go only to pages on the feed's own host."""
    same = urlsplit(page_url).netloc.lower() == urlsplit(feed.url).netloc.lower()
    return feed.headers if same else {}


def poll_once(
    poller: Poller, feeds: Sequence[FeedConfig], *, concurrency: int = 1
) -> list[FeedReport]:
    """Poll every feed once, up to ``concurrency`` at a time but the feeds of one host one
    after the other; the reports in the order of ``feeds``. StackError if Kafka fails."""
    by_host: dict[str, list[int]] = {}
    for number, feed in enumerate(feeds):
        by_host.setdefault(host_of(feed.url), []).append(number)
    reports: list[FeedReport | None] = [None] * len(feeds)

    def poll_host(numbers: list[int]) -> None:
        for number in numbers:
            reports[number] = log_report(poller.poll(feeds[number]))

    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="poll") as pool:
        for done in [pool.submit(poll_host, numbers) for numbers in by_host.values()]:
            done.result()  # StackError from a poll is raised here
    return [report for report in reports if report is not None]


def log_report(report: FeedReport) -> FeedReport:
    if report.error:
        log.warning("feed %s failed: %s", report.feed.url, report.error)
    else:
        log.info("%s", format_report(report))
    return report


def format_report(report: FeedReport) -> str:
    line = (
        f"{report.feed.source} ({report.feed.url}): published {report.published}, "
        f"skipped {report.skipped}, invalid {report.invalid}"
    )
    if report.not_modified:
        line += ", not modified"
    if report.error:
        line += f", failed: {report.error}"
    return line


def format_summary(reports: Sequence[FeedReport]) -> list[str]:
    failed = sum(1 for r in reports if r.error)
    total = (
        f"total: {len(reports)} feeds, published {sum(r.published for r in reports)}, "
        f"skipped {sum(r.skipped for r in reports)}, invalid {sum(r.invalid for r in reports)}, "
        f"{failed} failed"
    )
    return [*map(format_report, reports), total]


@contextlib.contextmanager
def open_poller(settings: Settings, **options: Any) -> Iterator[Poller]:
    """A poller publishing to ``settings.topic_raw``, its state read back from the topic."""
    states, problems = read_states(
        KafkaConnection.from_settings(settings), settings.topic_poller_state
    )
    for problem in problems:
        log.warning("starting afresh: %s", problem)
    producer = make_producer(settings)
    http = make_http_client()
    try:
        yield Poller(
            http=http,
            publisher=KafkaArticlePublisher(producer, settings.topic_raw),
            store=KafkaStateStore(producer, settings.topic_poller_state),
            states=states,
            fetch_pages=settings.feeds_fetch_pages,
            max_article_bytes=settings.max_article_bytes,
            **options,
        )
    finally:
        http.close()
        producer.close()
