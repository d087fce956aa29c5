"""The Elasticsearch duplicate index: remembered across restarts, waits when unreachable."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streams.elastic.client import make_client
from streams.elastic.fingerprints import ElasticsearchDuplicateIndex
from streams.enrich.dedup import fingerprint
from streams.errors import SinkBackpressure
from streams.settings import Settings
from streams.setup import remove_everything

from .conftest import SAMPLES, isolated_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Settings, Elasticsearch]]:
    """An empty fingerprints index of its own (the main worker fills the shared one)."""
    settings = isolated_settings(tmp_path)
    es = make_client(settings)
    yield settings, es
    es.close()
    remove_everything(settings)


def bodies() -> tuple[str, str]:
    lines = [json.loads(line) for line in (SAMPLES / "articles.jsonl").read_text().splitlines()]
    return lines[0]["text"], lines[3]["text"]  # a story and its syndicated copy


def test_a_restarted_worker_still_knows_the_first_copy(
    fresh: tuple[Settings, Elasticsearch],
) -> None:
    settings, es = fresh
    original, copy = bodies()
    before_restart = ElasticsearchDuplicateIndex(es, index=settings.fingerprints_index)
    assert before_restart.first_seen("dup-original", fingerprint(original)) is None
    es.indices.refresh(index=settings.fingerprints_index)

    after_restart = ElasticsearchDuplicateIndex(es, index=settings.fingerprints_index)
    assert after_restart.first_seen("dup-copy", fingerprint(copy)) == "dup-original"
    # A replay of either gets its first answer again.
    assert after_restart.first_seen("dup-copy", fingerprint(copy)) == "dup-original"
    assert after_restart.first_seen("dup-original", fingerprint(original)) is None


def test_back_to_back_copies_are_caught_before_a_refresh(
    fresh: tuple[Settings, Elasticsearch],
) -> None:
    settings, es = fresh
    original, copy = bodies()
    lines = [json.loads(line) for line in (SAMPLES / "articles.jsonl").read_text().splitlines()]
    index = ElasticsearchDuplicateIndex(es, index=settings.fingerprints_index, recent=2)
    assert index.first_seen("recent-original", fingerprint(original)) is None
    assert index.first_seen("recent-copy", fingerprint(copy)) == "recent-original"
    # Two more stories push the original out of the in-process window without error.
    assert index.first_seen("recent-a", fingerprint(lines[1]["text"])) is None
    assert index.first_seen("recent-b", fingerprint(lines[2]["text"])) is None


def test_unrelated_stories_are_not_duplicates(fresh: tuple[Settings, Elasticsearch]) -> None:
    settings, es = fresh
    lines = [json.loads(line) for line in (SAMPLES / "articles.jsonl").read_text().splitlines()]
    index = ElasticsearchDuplicateIndex(es, index=settings.fingerprints_index)
    answers = [
        index.first_seen(f"distinct-{i}", fingerprint(lines[i]["text"])) for i in (1, 2, 7, 8)
    ]
    assert answers == [None, None, None, None]


def test_an_unreachable_index_is_backpressure_not_a_bad_article() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    es = Elasticsearch(f"http://127.0.0.1:{port}", max_retries=0, request_timeout=2)
    index = ElasticsearchDuplicateIndex(es, index="news-fingerprints")
    with pytest.raises(SinkBackpressure, match="unreachable"):
        index.first_seen("any", fingerprint(bodies()[0]))
