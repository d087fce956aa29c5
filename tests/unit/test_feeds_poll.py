"""One poller against a real HTTP server on loopback serving the committed fixtures,
with an in-memory publisher and state store in place of Kafka (the integration test
runs the same poller against the real broker)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from streams import __version__
from streams.devtools import FeedServer, fixture_article_ids, start_fixture_feeds
from streams.errors import StackError
from streams.messages import RawArticle
from streams.producers import (
    FeedConfig,
    FeedReport,
    FeedsHolder,
    FeedState,
    HostThrottle,
    Poller,
    PollSchedule,
    decode_state,
    encode_state,
    format_summary,
    load_feeds,
    make_http_client,
    poll_once,
    run_poller,
)
from streams.producers.feeds.fetching import retry_after
from streams.producers.feeds.poller import page_headers


@dataclass
class MemoryPublisher:
    published: list[RawArticle] = field(default_factory=list)
    fail: bool = False

    def publish(self, articles: Sequence[RawArticle]) -> None:
        if self.fail:
            raise StackError("Kafka is down")
        self.published.extend(articles)


@dataclass
class MemoryStore:
    """Keeps what a compacted topic would: the latest serialised state per feed."""

    records: dict[str, bytes] = field(default_factory=dict)
    saves: int = 0

    def save(self, state: FeedState) -> None:
        self.records[state.url] = encode_state(state)
        self.saves += 1

    def read_back(self) -> dict[str, FeedState]:
        return {url: decode_state(url, value) for url, value in self.records.items()}


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feeds = FeedServer().start()
    yield feeds
    feeds.stop()


def make_poller(
    store: MemoryStore | None = None, publisher: MemoryPublisher | None = None, **options: object
) -> Poller:
    store = store or MemoryStore()
    return Poller(
        http=make_http_client(timeout=float(options.pop("timeout", 5.0))),  # type: ignore[arg-type]
        publisher=publisher or MemoryPublisher(),
        store=store,
        states=store.read_back(),
        **options,  # type: ignore[arg-type]
    )


def fetched(server: FeedServer) -> list[tuple[str, dict[str, str]]]:
    """The requests for feeds and pages (robots.txt is asked first, once per host)."""
    return [(path, headers) for path, headers in server.requests if path != "/robots.txt"]


def feed(server: FeedServer, name: str, **options: object) -> FeedConfig:
    return FeedConfig(url=server.url(name), source=f"fixture {name}", **options)  # type: ignore[arg-type]


def test_first_poll_publishes_each_new_item_once_and_records_it(server: FeedServer) -> None:
    store, publisher = MemoryStore(), MemoryPublisher()
    report = make_poller(store, publisher).poll(feed(server, "rss2.xml"))
    assert (report.published, report.skipped, report.invalid, report.error) == (4, 1, 1, None)
    assert len({a.id for a in publisher.published}) == 4
    state = store.read_back()[server.url("rss2.xml")]
    assert state.seen == tuple(a.id for a in publisher.published)
    assert state.etag and state.last_modified
    headers = fetched(server)[0][1]
    assert headers["User-Agent"] == f"newsstream/{__version__} (+https://github.com/newsstream)"


def test_a_second_poll_is_conditional_and_a_304_publishes_nothing(server: FeedServer) -> None:
    store, publisher = MemoryStore(), MemoryPublisher()
    poller = make_poller(store, publisher)
    poller.poll(feed(server, "atom.xml"))
    report = poller.poll(feed(server, "atom.xml"))
    assert report.not_modified and report.published == 0
    assert len(publisher.published) == 2 and store.saves == 1
    first, second = (headers for _, headers in fetched(server))
    assert "If-None-Match" not in first
    assert second["If-None-Match"] == store.read_back()[server.url("atom.xml")].etag
    assert second["If-Modified-Since"] == store.read_back()[server.url("atom.xml")].last_modified


def test_if_modified_since_alone_gets_a_304(server: FeedServer) -> None:
    store = MemoryStore()
    make_poller(store).poll(feed(server, "rss1.xml"))
    state = store.read_back()[server.url("rss1.xml")]
    store.save(FeedState(state.url, etag=None, last_modified=state.last_modified, seen=state.seen))
    assert make_poller(store).poll(feed(server, "rss1.xml")).not_modified


def test_after_a_restart_items_seen_before_are_not_published_again(server: FeedServer) -> None:
    store = MemoryStore()
    make_poller(store).poll(feed(server, "rss2.xml"))
    # The validators are lost (say the feed changed its ETag); the seen ids are not.
    state = store.read_back()[server.url("rss2.xml")]
    store.save(FeedState(state.url, seen=state.seen))
    publisher = MemoryPublisher()
    report = make_poller(store, publisher).poll(feed(server, "rss2.xml"))
    assert (report.published, report.skipped, report.invalid) == (0, 5, 1)
    assert publisher.published == []


def test_per_feed_headers_are_sent(server: FeedServer) -> None:
    make_poller().poll(feed(server, "rss1.xml", headers={"Authorization": "Bearer t0ken"}))
    assert fetched(server)[0][1]["Authorization"] == "Bearer t0ken"
    assert "Authorization" not in server.requests[0][1]  # robots.txt: no credentials


def test_latin1_without_a_declaration_is_published_readable(server: FeedServer) -> None:
    publisher = MemoryPublisher()
    make_poller(publisher=publisher).poll(feed(server, "latin1.xml", language="de"))
    assert [a.title for a in publisher.published] == [
        "Exporte nach Österreich steigen deutlich",
        "März-Zahlen: Zolleinnahmen gesunken",
    ]


def test_a_server_error_fails_the_poll_and_records_nothing(server: FeedServer) -> None:
    server.status["/rss2.xml"] = 500
    store = MemoryStore()
    report = make_poller(store).poll(feed(server, "rss2.xml"))
    assert report.error is not None and "HTTP 500" in report.error
    assert store.saves == 0
    schedule, rng = PollSchedule(), random.Random(1)
    waits = [schedule.next_poll_in(report.feed, report, n, rng) for n in (1, 2, 3, 20)]
    assert waits == [30.0, 60.0, 120.0, 3600.0]  # the project's RetryPolicy, capped at 1 h


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_honour_retry_after(server: FeedServer, status: int) -> None:
    server.status["/atom.xml"] = status
    server.retry_after["/atom.xml"] = "600"
    report = make_poller().poll(feed(server, "atom.xml"))
    assert report.retry_after == 600.0
    assert PollSchedule().next_poll_in(report.feed, report, 1, random.Random()) == 600.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 12, 6, 12, 2, tzinfo=UTC), usegmt=True)
    assert retry_after("120", now=now) == 120.0
    assert retry_after(later, now=now) == 120.0
    assert retry_after("Tue, 01 Dec 2026 08:30:00 GMT", now=now) == 0.0  # in the past
    assert retry_after("soon", now=now) == retry_after(None) == 0.0


def test_a_slow_server_times_out(server: FeedServer) -> None:
    server.delay["/rss1.xml"] = 2.0
    report = make_poller(timeout=0.3).poll(feed(server, "rss1.xml"))
    assert report.error is not None and "timed out" in report.error


def test_a_malformed_feed_fails_the_poll(server: FeedServer) -> None:
    report = make_poller().poll(feed(server, "malformed.xml"))
    assert report.error is not None and report.error.startswith("malformed feed")


def test_a_response_over_the_size_limit_fails_the_poll(server: FeedServer) -> None:
    report = make_poller(max_bytes=500).poll(feed(server, "rss2.xml"))
    assert report.error is not None and "byte limit" in report.error


def test_a_missing_feed_fails_the_poll(server: FeedServer) -> None:
    report = make_poller().poll(feed(server, "nowhere.xml"))
    assert report.error is not None and "HTTP 404" in report.error


def test_when_kafka_fails_nothing_is_recorded_and_the_next_poll_publishes(
    server: FeedServer,
) -> None:
    store = MemoryStore()
    with pytest.raises(StackError):
        make_poller(store, MemoryPublisher(fail=True)).poll(feed(server, "atom.xml"))
    assert store.saves == 0
    publisher = MemoryPublisher()
    assert make_poller(store, publisher).poll(feed(server, "atom.xml")).published == 2


def test_pages_are_fetched_politely_and_a_failed_page_keeps_the_feed_text(
    server: FeedServer,
) -> None:
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    throttle = HostThrottle(min_interval=1.0, clock=lambda: now[0], sleep=sleep)
    publisher = MemoryPublisher()
    poller = make_poller(publisher=publisher, fetch_pages=True, throttle=throttle)
    report = poller.poll(feed(server, "relative.xml"))
    assert report.published == 2
    baltic, gone = publisher.published
    assert baltic.html is not None and "strong demand from manufacturers" in baltic.html
    assert baltic.text is not None  # the feed's text stays as the worker's fallback
    assert gone.html is None and gone.text is not None
    assert [path for path, _ in fetched(server)] == [
        "/relative.xml",
        "/pages/baltic-capacity.html",
        "/pages/gone.html",
    ]
    assert sleeps == [1.0]  # the second page of one host waited its turn


def test_the_host_throttle_spaces_requests_per_host() -> None:
    now = [0.0]
    sleeps: list[float] = []
    throttle = HostThrottle(min_interval=1.0, clock=lambda: now[0], sleep=sleeps.append)
    throttle.wait("https://a.example/1")
    throttle.wait("https://b.example/1")
    now[0] = 0.25
    throttle.wait("https://A.example/2")
    now[0] = 5.0
    throttle.wait("https://a.example/3")
    assert sleeps == [0.75]


def test_once_polls_every_feed_and_sums_up(server: FeedServer) -> None:
    server.status["/atom.xml"] = 500
    feeds = [feed(server, name) for name in ("rss2.xml", "atom.xml", "rss1.xml")]
    reports = poll_once(make_poller(), feeds)
    lines = format_summary(reports)
    assert (
        lines[0].startswith("fixture rss2.xml (")
        and "published 4, skipped 1, invalid 1" in lines[0]
    )
    assert "failed: " in lines[1] and "HTTP 500" in lines[1]
    assert lines[-1] == "total: 3 feeds, published 5, skipped 1, invalid 1, 1 failed"


def test_run_polls_until_stopped_and_picks_up_a_new_feed(
    server: FeedServer, tmp_path: Path
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(f"feeds: [{{url: '{server.url('rss1.xml')}', interval: 60}}]")
    holder = FeedsHolder.load(path, environ={})
    publisher = MemoryPublisher()
    stop = threading.Event()
    schedule = PollSchedule(start_spread=0.0, reload_every=0.1)
    runner = threading.Thread(
        target=run_poller,
        args=(make_poller(publisher=publisher), holder),
        kwargs={"stop": stop, "schedule": schedule},
    )
    runner.start()
    try:
        wait_for(lambda: len(publisher.published) == 1)
        path.write_text(
            f"feeds: [{{url: '{server.url('rss1.xml')}', interval: 60}},"
            f" {{url: '{server.url('atom.xml')}', interval: 60}}]"
        )
        wait_for(lambda: len(publisher.published) == 3)
    finally:
        stop.set()
        runner.join(timeout=5)
    assert not runner.is_alive()
    assert [path for path, _ in fetched(server)] == ["/rss1.xml", "/atom.xml"]  # once in 60 s


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_report_defaults() -> None:
    report = FeedReport(FeedConfig(url="https://a.example/", source="a"))
    assert (report.published, report.skipped, report.invalid, report.error) == (0, 0, 0, None)


def test_the_demo_feeds_file_lists_fixtures_that_all_poll(tmp_path: Path) -> None:
    feeds_file = tmp_path / "run" / "feeds.yaml"
    server = start_fixture_feeds(feeds_file)
    publisher = MemoryPublisher()
    try:
        feeds = load_feeds(feeds_file, environ={})
        reports = poll_once(make_poller(publisher=publisher), feeds)
        expected = fixture_article_ids(server)
    finally:
        server.stop()
    assert len(feeds) == 4 and not any(r.error for r in reports)
    assert [a.id for a in publisher.published] == expected and len(expected) == 9


def test_feed_headers_go_only_to_pages_on_the_feed_host() -> None:
    config = FeedConfig(url="https://a.example/rss", source="a", headers={"Authorization": "x"})
    assert page_headers(config, "https://A.example/story") == {"Authorization": "x"}
    assert page_headers(config, "https://b.example/story") == {}
    assert page_headers(config, "https://a.example:8443/story") == {}
