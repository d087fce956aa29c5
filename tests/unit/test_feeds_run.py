"""The running poller: concurrent polls (one per host), backoff kept in the state topic
across restarts, removed feeds keeping their state, and its metrics and probes."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.devtools import FeedServer
from streams.producers import FeedConfig, FeedsHolder, PollSchedule, poll_once, run_poller
from streams.producers.feeds import PollHealth, PollTelemetry, plan, poll_feed, run_service
from streams.producers.feeds.web import page
from streams.settings import Settings

from .test_feeds_poll import MemoryPublisher, MemoryStore, fetched, make_poller, wait_for

FAST = PollSchedule(start_spread=0.0, reload_every=0.05)


@pytest.fixture
def hosts() -> Iterator[tuple[FeedServer, FeedServer]]:
    """Two feed servers on two loopback hosts (127.0.0.1 and 127.0.0.2)."""
    one, two = FeedServer().start(), FeedServer(host="127.0.0.2").start()
    yield one, two
    one.stop()
    two.stop()


def count(server: FeedServer, path: str) -> int:
    return [p for p, _ in fetched(server)].count(path)


def config(server: FeedServer, name: str, interval: float = 60.0) -> FeedConfig:
    return FeedConfig(url=server.url(name), source=name, interval=interval)


def holder_of(tmp_path: Path, *feeds: FeedConfig) -> FeedsHolder:
    """The feeds as if read from a file (that is not there: no reload changes them)."""
    return FeedsHolder(tmp_path / "feeds.yaml", {}, tuple(feeds))


def running(
    target: Callable[..., None], *args: object, **kwargs: object
) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=target, args=args, kwargs={"stop": stop, **kwargs})
    thread.start()
    return stop, thread


def finish(stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


# --- scheduling (pure) ------------------------------------------------------------------


def test_plan_starts_the_most_overdue_first_one_per_host_within_the_slots() -> None:
    due = {
        "http://a.example/1": 5.0,
        "http://a.example/2": 1.0,
        "http://b.example/1": 3.0,
        "http://c.example/1": 4.0,
        "http://d.example/1": 12.0,
        "http://e.example/1": math.inf,  # in flight
    }
    start, wake_in = plan(due, now=10.0, busy_hosts={"c.example"}, slots=8)
    assert start == ["http://a.example/2", "http://b.example/1"]
    assert wake_in == 2.0
    assert plan(due, now=10.0, busy_hosts=set(), slots=1)[0] == ["http://a.example/2"]
    assert plan({"http://a.example/": math.inf}, now=0.0, busy_hosts=set(), slots=1) == (
        [],
        math.inf,
    )


def test_a_restart_waits_out_a_recorded_backoff() -> None:
    schedule, rng = PollSchedule(start_spread=10.0), random.Random(3)
    feed = FeedConfig(url="https://a.example/rss", source="a", interval=900.0)
    store = MemoryStore()
    poller = make_poller(store)
    poller.record_failure(feed.url, retry_at=1_000.0 + 240.0)
    state = store.read_back()[feed.url]
    assert (state.failures, state.retry_at) == (1, 1_240.0)
    assert schedule.first_poll_in(feed, state, 1_000.0, rng) == 240.0
    assert schedule.first_poll_in(feed, state, 2_000.0, rng) <= 10.0  # long over
    far = state.failed(retry_at=1_000.0 + 10 * 3600.0)
    assert schedule.first_poll_in(feed, far, 1_000.0, rng) == 3600.0  # never past the cap


# --- concurrency ------------------------------------------------------------------------


def test_once_polls_hosts_concurrently_and_one_host_one_feed_at_a_time(
    hosts: tuple[FeedServer, FeedServer],
) -> None:
    one, two = hosts
    for server in hosts:
        server.delay.update({"/rss1.xml": 0.6, "/atom.xml": 0.6})
    feeds = [config(one, "rss1.xml"), config(two, "rss1.xml"), config(two, "atom.xml")]
    publisher = MemoryPublisher()
    started = time.monotonic()
    reports = poll_once(make_poller(publisher=publisher), feeds, concurrency=8)
    elapsed = time.monotonic() - started
    assert [r.feed for r in reports] == feeds  # in the order given
    assert not any(r.error for r in reports)
    # The two feeds of 127.0.0.2 one after the other (1.2 s), beside 127.0.0.1's (0.6 s).
    assert 1.2 <= elapsed < 1.7
    assert len(publisher.published) == 1 + 1 + 2


def test_the_loop_polls_concurrently_and_never_publishes_an_id_twice(
    hosts: tuple[FeedServer, FeedServer], tmp_path: Path
) -> None:
    one, two = hosts
    one.delay["/rss2.xml"] = 0.3  # slower than its interval: must not overlap itself
    # New ETags every time (no 304): every poll parses and checks the seen ids again.
    for server in hosts:
        server.answer = _without_validators(server.answer)  # type: ignore[method-assign]
    feeds = (config(one, "rss2.xml", 0.05), config(two, "atom.xml", 0.05))
    publisher, store = MemoryPublisher(), MemoryStore()
    poller = make_poller(store, publisher)
    stop, thread = running(
        run_poller, poller, holder_of(tmp_path, *feeds), schedule=FAST, concurrency=4
    )
    try:
        wait_for(lambda: count(one, "/rss2.xml") >= 3 and count(two, "/atom.xml") >= 6)
    finally:
        finish(stop, thread)
    ids = [a.id for a in publisher.published]
    assert len(ids) == len(set(ids)) == 4 + 2
    assert count(two, "/atom.xml") > count(one, "/rss2.xml")  # the slow one held up only itself


def _without_validators(answer: Callable[..., None]) -> Callable[..., None]:
    def answer_afresh(handler: object, path: str) -> None:
        del handler.headers["If-None-Match"]  # type: ignore[attr-defined]
        del handler.headers["If-Modified-Since"]  # type: ignore[attr-defined]
        answer(handler, path)

    return answer_afresh


# --- backoff across a restart, removed feeds --------------------------------------------


def test_a_failing_feeds_backoff_is_recorded_and_survives_a_restart(
    hosts: tuple[FeedServer, FeedServer], tmp_path: Path
) -> None:
    one, _ = hosts
    one.status["/rss1.xml"] = 500
    feed = config(one, "rss1.xml", 10.0)
    store = MemoryStore()

    def run_at(wall: float, until: Callable[[], bool]) -> None:
        """A poller started afresh from what the topic holds, the wall clock at ``wall``."""
        stop, thread = running(
            run_poller,
            make_poller(store),
            holder_of(tmp_path, feed),
            schedule=FAST,
            wall=lambda: wall,
        )
        try:
            wait_for(until)
        finally:
            finish(stop, thread)

    run_at(5_000.0, lambda: feed.url in store.records)
    state = store.read_back()[feed.url]
    assert (state.failures, state.retry_at) == (1, 5_000.0 + 30.0)

    # Restarted within the backoff: no request at all.
    del one.status["/rss1.xml"]
    requests = len(one.requests)
    later = time.monotonic() + 0.5
    run_at(5_010.0, lambda: time.monotonic() > later)
    assert len(one.requests) == requests

    # Once the backoff is over, a good poll clears it (in the topic too).
    run_at(5_031.0, lambda: store.read_back()[feed.url].failures == 0)
    assert store.read_back()[feed.url].retry_at is None and store.read_back()[feed.url].seen


def test_a_second_failure_doubles_the_backoff_from_the_recorded_count(
    hosts: tuple[FeedServer, FeedServer],
) -> None:
    one, _ = hosts
    one.status["/atom.xml"] = 500
    feed, store = config(one, "atom.xml"), MemoryStore()
    poller = make_poller(store)
    poller.record_failure(feed.url, retry_at=0.0)  # one failure before a restart
    telemetry = PollTelemetry(PollHealth(stuck_after=60.0))
    delay = poll_feed(
        make_poller(store), feed, schedule=PollSchedule(), rng=random.Random(), telemetry=telemetry
    )
    assert delay == 60.0 and store.read_back()[feed.url].failures == 2


def test_a_removed_feed_keeps_its_state_and_coming_back_publishes_nothing_again(
    hosts: tuple[FeedServer, FeedServer], tmp_path: Path
) -> None:
    one, _ = hosts
    kept, removed = config(one, "rss1.xml", 0.05), config(one, "atom.xml", 0.05)
    holder = holder_of(tmp_path, kept, removed)
    publisher, store = MemoryPublisher(), MemoryStore()
    poller = make_poller(store, publisher)
    stop, thread = running(run_poller, poller, holder, schedule=FAST)
    try:
        wait_for(lambda: len(publisher.published) == 2 + 1)
        holder.current = (kept,)
        time.sleep(0.3)
        assert store.records.keys() == {kept.url, removed.url}  # no tombstone
        holder.current = (kept, removed)
        polled = count(one, "/atom.xml")
        wait_for(lambda: count(one, "/atom.xml") >= polled + 2)
    finally:
        finish(stop, thread)
    assert len(publisher.published) == 3  # nothing of atom.xml again


# --- metrics and probes -----------------------------------------------------------------


def samples(telemetry: PollTelemetry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, content_type, body = page("/metrics", telemetry)
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_metrics_count_polls_by_outcome_and_items_by_feed(
    hosts: tuple[FeedServer, FeedServer], tmp_path: Path
) -> None:
    one, _ = hosts
    one.status["/atom.xml"] = 500
    good, bad = config(one, "rss2.xml", 0.05), config(one, "atom.xml", 0.05)
    telemetry = PollTelemetry(PollHealth(stuck_after=60.0))
    stop, thread = running(
        run_poller,
        make_poller(),
        holder_of(tmp_path, good, bad),
        schedule=FAST,
        telemetry=telemetry,
        wall=lambda: 7_000.0,
    )
    try:
        wait_for(lambda: count(one, "/rss2.xml") >= 2)
    finally:
        finish(stop, thread)
    got = samples(telemetry)
    g, b = (("feed", good.label),), (("feed", bad.label),)
    assert got[("newsstream_poll_polls_total", (*g, ("outcome", "new")))] == 1
    assert got[("newsstream_poll_polls_total", (*g, ("outcome", "not_modified")))] >= 1
    assert got[("newsstream_poll_polls_total", (*b, ("outcome", "error")))] == 1
    assert got[("newsstream_poll_items_published_total", g)] == 4
    assert got[("newsstream_poll_items_skipped_total", g)] == 1
    assert got[("newsstream_poll_items_invalid_total", g)] == 1
    assert got[("newsstream_poll_fetch_duration_seconds_count", g)] >= 2
    assert got[("newsstream_poll_last_success_timestamp_seconds", g)] == 7_000.0
    assert ("newsstream_poll_last_success_timestamp_seconds", b) not in got
    assert got[("newsstream_poll_consecutive_failures", b)] == 1
    assert got[("newsstream_poll_next_poll_timestamp_seconds", b)] == 7_030.0
    assert got[("newsstream_poll_feeds", ())] == 2
    assert got[("newsstream_poll_kafka_ready", ())] == 1


def test_the_feed_label_is_the_url_as_written_without_expanded_secrets(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds: [{url: 'https://a.example/rss?key=${KEY}'}]")
    (feed,) = FeedsHolder.load(path, environ={"KEY": "s3cret"}).current
    assert feed.url.endswith("key=s3cret") and feed.label == "https://a.example/rss?key=${KEY}"


def test_healthz_fails_when_the_loop_or_a_poll_is_stuck() -> None:
    now = [0.0]
    telemetry = PollTelemetry(PollHealth(stuck_after=60.0, clock=lambda: now[0]))
    feed = FeedConfig(url="https://a.example/rss", source="a")
    assert page("/healthz", telemetry)[0] == 200
    telemetry.started(feed)
    now[0] = 61.0
    status, _, body = page("/healthz", telemetry)
    assert status == 503
    assert b"the poll loop has not gone round for 61 s" in body
    assert b"feed https://a.example/rss has been polling for 61 s" in body
    telemetry.turned(1)
    telemetry.health.finished(feed.label)
    assert page("/healthz", telemetry)[0] == 200


def test_readyz_follows_the_last_kafka_write(hosts: tuple[FeedServer, FeedServer]) -> None:
    one, _ = hosts
    telemetry = PollTelemetry(PollHealth(stuck_after=60.0))
    assert page("/readyz", telemetry)[0] == 200
    kafka_down = MemoryPublisher(fail=True)
    schedule, rng = PollSchedule(), random.Random()
    poll_feed(
        make_poller(publisher=kafka_down),
        config(one, "rss1.xml"),
        schedule=schedule,
        rng=rng,
        telemetry=telemetry,
    )
    status, _, body = page("/readyz", telemetry)
    assert status == 503 and b"Kafka did not take the poller's last write" in body
    assert samples(telemetry)[("newsstream_poll_kafka_ready", ())] == 0
    poll_feed(
        make_poller(), config(one, "rss1.xml"), schedule=schedule, rng=rng, telemetry=telemetry
    )
    assert page("/readyz", telemetry)[0] == 200
    assert page("/nothing", telemetry)[0] == 404


def test_the_service_serves_its_pages_while_it_runs(
    hosts: tuple[FeedServer, FeedServer], tmp_path: Path
) -> None:
    one, _ = hosts
    port = _free_port()
    settings = Settings(poll_web_port=port, poll_concurrency=2)
    feed = config(one, "rss1.xml")
    stop, thread = running(run_service, make_poller(), holder_of(tmp_path, feed), settings)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(base + "/readyz") == 200)
        assert _get(base + "/healthz") == 200
        # The loop went round (the first poll comes within the start spread, up to 10 s).
        wait_for(lambda: b"newsstream_poll_feeds 1.0" in httpx.get(base + "/metrics").content)
    finally:
        finish(stop, thread)
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/healthz")


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
