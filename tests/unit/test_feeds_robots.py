"""robots.txt: what an answer means (pure), and the poller asking it before feeds and pages."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.devtools import FeedServer
from streams.devtools.feedserver import FIXTURES
from streams.producers import FeedConfig, Poller, make_http_client
from streams.producers.feeds import RobotsCache, rules_from_answer

from .test_feeds_poll import MemoryPublisher, MemoryStore, fetched

SOURCE = "https://news.example/robots.txt"
RULES = b"""
User-agent: *
Disallow: /private/

User-agent: newsstream
Disallow: /members/
"""


def test_a_2xx_file_is_matched_against_the_newsstream_token() -> None:
    rules = rules_from_answer(SOURCE, 200, RULES)
    assert not rules.allows("https://news.example/members/feed.xml")
    # The group for newsstream replaces the * group, as RFC 9309 says.
    assert rules.allows("https://news.example/private/feed.xml")
    assert rules.allows("https://news.example/rss")
    everyone = rules_from_answer(SOURCE, 200, b"User-agent: *\nDisallow: /\n")
    assert not everyone.allows("https://news.example/rss")


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_a_4xx_means_everything_is_allowed(status: int) -> None:
    assert rules_from_answer(SOURCE, status, b"").allows("https://news.example/anything")


@pytest.mark.parametrize(
    ("status", "why"), [(500, "HTTP 500"), (503, "HTTP 503"), (None, "no answer")]
)
def test_no_answer_or_a_5xx_disallows_everything_for_now(status: int | None, why: str) -> None:
    rules = rules_from_answer(SOURCE, status, b"")
    assert rules.disallow_all and not rules.allows("https://news.example/rss")
    assert rules.reason == f"{SOURCE} is unreachable ({why})"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[FeedServer]:
    root = tmp_path / "feeds"
    shutil.copytree(FIXTURES, root)
    server = FeedServer(root=root).start()
    yield server
    server.stop()


def poller(publisher: MemoryPublisher | None = None, **options: object) -> Poller:
    return Poller(
        http=make_http_client(timeout=5.0),
        publisher=publisher or MemoryPublisher(),
        store=MemoryStore(),
        **options,  # type: ignore[arg-type]
    )


def test_a_disallowed_feed_fails_with_the_reason_and_is_not_fetched(served: FeedServer) -> None:
    (served.root / "robots.txt").write_text("User-agent: newsstream\nDisallow: /rss2.xml\n")
    report = poller().poll(FeedConfig(url=served.url("rss2.xml"), source="s"))
    assert report.error is not None
    assert f"{served.url('robots.txt')} disallows it for user agent 'newsstream'" in report.error
    assert fetched(served) == []
    assert served.requests[0][1]["User-Agent"].startswith("newsstream/")


def test_an_allowed_feed_is_fetched_and_robots_is_asked_once_per_ttl(served: FeedServer) -> None:
    (served.root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    now = [0.0]
    the_poller = poller()
    the_poller.robots = RobotsCache(the_poller.http, ttl=60.0, clock=lambda: now[0])
    for name in ("rss1.xml", "atom.xml"):
        assert the_poller.poll(FeedConfig(url=served.url(name), source="s")).error is None
    assert served.paths_requested().count("/robots.txt") == 1
    now[0] = 61.0
    the_poller.poll(FeedConfig(url=served.url("rss1.xml"), source="s"))
    assert served.paths_requested().count("/robots.txt") == 2


def test_a_failing_robots_txt_disallows_the_feed_until_it_answers(served: FeedServer) -> None:
    served.status["/robots.txt"] = 503
    now = [0.0]
    the_poller = poller()
    the_poller.robots = RobotsCache(
        the_poller.http, ttl=3600.0, unreachable_ttl=300.0, clock=lambda: now[0]
    )
    feed = FeedConfig(url=served.url("rss1.xml"), source="s")
    report = the_poller.poll(feed)
    assert report.error is not None and "unreachable (HTTP 503)" in report.error
    assert "RFC 9309" in report.error and fetched(served) == []
    del served.status["/robots.txt"]  # back (a 404: nothing disallowed)
    now[0] = 301.0  # the unreachable answer is kept only briefly
    assert the_poller.poll(feed).error is None


def test_a_disallowed_page_is_not_fetched_and_the_feed_text_goes_out(served: FeedServer) -> None:
    (served.root / "robots.txt").write_text("User-agent: newsstream\nDisallow: /pages/\n")
    publisher = MemoryPublisher()
    report = poller(publisher, fetch_pages=True).poll(
        FeedConfig(url=served.url("relative.xml"), source="s")
    )
    assert report.error is None and report.published == 2
    assert all(a.html is None and a.text for a in publisher.published)
    assert [path for path, _ in fetched(served)] == ["/relative.xml"]
