"""`newsstream poll --once` against the real stack: feeds served on loopback → articles.raw
→ a worker → searchable in Elasticsearch; a second poll, in a new process that reads the
poller's state back from the compacted topic, publishes nothing again. `newsstream poll`
as a service: its pages, and a failing feed's backoff kept across a restart."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch
from prometheus_client.parser import text_string_to_metric_families

from streams.devtools import FeedServer, localrun
from streams.devtools.feedserver import FIXTURES
from streams.elastic import make_client
from streams.errors import StackError
from streams.messages import parse_raw_article
from streams.settings import Settings
from streams.setup import remove_everything

from .conftest import (
    ROOT,
    consume_all,
    free_port,
    get_docs,
    isolated_settings,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

FEEDS = ("rss2.xml", "atom.xml", "rss1.xml", "latin1.xml")
ABSOLUTE_LINKS = (
    "https://harbour-wire.example.org/news/rotterdam-record-volumes",
    "https://harbour-wire.example.org/news/steel-probe",
    "https://harbour-wire.example.org/news/hamburg-seizure",
    "https://ledger.example.com/markets/rates-steady",
    "https://ledger.example.com/commodities/copper-climbs",
    "https://almanac.example.net/briefs/grain-exports",
    "https://wirtschaft.example.de/artikel/exporte-oesterreich",
    "https://wirtschaft.example.de/artikel/zolleinnahmen",
)


def id_of(url: str) -> str:
    return parse_raw_article({"url": url, "title": "t", "text": "t"}).id


@pytest.fixture
def served(tmp_path: Path) -> Iterator[FeedServer]:
    """The fixtures, copied so the test can change one."""
    root = tmp_path / "feeds"
    shutil.copytree(FIXTURES, root)
    server = FeedServer(root=root).start()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path: Path, served: FeedServer) -> Iterator[Settings]:
    feeds_file = tmp_path / "feeds.yaml"
    lines = ["feeds:"] + [f"  - {{url: '{served.url(name)}', source: '{name}'}}" for name in FEEDS]
    feeds_file.write_text("\n".join(lines) + "\n")
    settings = isolated_settings(tmp_path, feeds_path=str(feeds_file))
    yield settings
    remove_everything(settings)


def poll_once(settings: Settings) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "poll", "--once"],
        cwd=ROOT,
        env={**os.environ, **settings.as_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_poll_once_to_elasticsearch_and_never_twice(
    settings: Settings, served: FeedServer, tmp_path: Path
) -> None:
    first = poll_once(settings)
    assert first[-1] == "total: 4 feeds, published 9, skipped 1, invalid 1, 0 failed"
    assert "published 4, skipped 1, invalid 1" in first[0]  # rss2.xml

    ids = [id_of(url) for url in (*ABSOLUTE_LINKS, served.url("pages/baltic-capacity.html"))]
    worker = start_worker(settings, tmp_path / "worker.log")
    es: Elasticsearch = make_client(settings)
    try:
        docs = wait_until(
            lambda: (d := get_docs(es, settings.articles_alias, ids)) and len(d) == len(ids) and d,
            timeout=180,
            what="every feed item in Elasticsearch",
        )
        german = docs[id_of(ABSOLUTE_LINKS[6])]
        assert german["title"] == "Exporte nach Österreich steigen deutlich"
        assert german["published_at"] == "2026-12-08T08:30:00Z"
        assert german["source"] == "latin1.xml"
        es.indices.refresh(index=settings.articles_alias)  # mget is real-time, search is not
        found = es.search(
            index=settings.articles_alias, query={"match": {"title": "copper"}}, size=5
        )["hits"]["hits"]
        assert [hit["_id"] for hit in found] == [id_of(ABSOLUTE_LINKS[4])]
    finally:
        es.close()
        localrun.stop(worker)

    # A new version of one feed (a new ETag, so a 200): its items are known from the
    # state topic; the other feeds answer 304 to the validators read back from it.
    rss2 = served.root / "rss2.xml"
    rss2.write_bytes(rss2.read_bytes() + b"<!-- edited -->\n")
    second = poll_once(settings)
    assert second[-1] == "total: 4 feeds, published 0, skipped 5, invalid 1, 0 failed"
    assert sum("not modified" in line for line in second) == 3
    feed_requests = [h for path, h in served.requests if path.endswith(".xml")]
    conditional = feed_requests[len(FEEDS) :]
    assert len(conditional) == len(FEEDS)
    assert all("If-None-Match" in headers for headers in conditional)
    assert served.paths_requested().count("/robots.txt") == 2  # once per process and host

    raw = consume_all(settings, settings.topic_raw, expect=len(ids), timeout=30)
    assert sorted(r.key.decode() for r in raw) == sorted(ids)  # each once, keyed by id
    states = consume_all(settings, settings.topic_poller_state, expect=4, timeout=30)
    assert {r.key.decode() for r in states} == {served.url(name) for name in FEEDS}


def start_poller(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.as_env()}
    try:
        return localrun.start(["poll"], env=env, log=log, ready=b"/readyz on http", timeout=60)
    except StackError as exc:
        pytest.fail(str(exc))


def metric(settings: Settings, name: str, **labels: str) -> float | None:
    text = httpx.get(f"http://127.0.0.1:{settings.poll_web_port}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def wait_for_metric(
    settings: Settings, name: str, value: float, *, timeout: float, **labels: str
) -> None:
    wait_until(
        lambda: metric(settings, name, **labels) == value,
        timeout=timeout,
        what=f"{name}{labels} == {value}",
    )


def test_the_service_serves_its_pages_and_a_backoff_survives_a_restart(
    settings: Settings, served: FeedServer, tmp_path: Path
) -> None:
    served.status["/atom.xml"] = 500
    settings = settings.replace(poll_web_port=free_port())
    base = f"http://127.0.0.1:{settings.poll_web_port}"
    good, bad = served.url("rss2.xml"), served.url("atom.xml")
    failures = "newsstream_poll_consecutive_failures"
    poller = start_poller(settings, tmp_path / "poll-1.log")
    try:
        wait_for_metric(settings, "newsstream_poll_items_published_total", 4, timeout=60, feed=good)
        wait_for_metric(settings, failures, 1, timeout=60, feed=bad)
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
        assert httpx.get(base + "/readyz", timeout=5).json() == {"ready": True, "reasons": []}
        polls = metric(settings, "newsstream_poll_polls_total", feed=bad, outcome="error")
        assert polls == 1
    finally:
        localrun.stop(poller)

    # The backoff (30 s) was written to the state topic: a new process waits it out.
    del served.status["/atom.xml"]
    atom_polls = served.paths_requested().count("/atom.xml")
    poller = start_poller(settings, tmp_path / "poll-2.log")
    try:
        wait_for_metric(settings, failures, 1, timeout=30, feed=bad)  # restored
        assert served.paths_requested().count("/atom.xml") == atom_polls
        wait_until(
            lambda: served.paths_requested().count("/atom.xml") > atom_polls,
            timeout=45,
            what="atom.xml polled once its backoff is over",
        )
        wait_for_metric(settings, failures, 0, timeout=15, feed=bad)
    finally:
        localrun.stop(poller)
