"""The Elasticsearch fingerprint store: remembered across restarts, waits when unreachable."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from elasticsearch import AsyncElasticsearch

from streams.elastic import FingerprintStore, make_async_client
from streams.enrich import fingerprint
from streams.errors import RecordRejected, SinkBackpressure
from streams.settings import Settings
from streams.setup import remove_everything

from .conftest import SAMPLES, isolated_settings

pytestmark = pytest.mark.integration
T = TypeVar("T")


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Settings]:
    """An empty fingerprints index of its own (the main worker fills the shared one)."""
    settings = isolated_settings(tmp_path)
    yield settings
    remove_everything(settings)


def with_store(settings: Settings, body: Callable[[AsyncElasticsearch], Awaitable[T]]) -> T:
    async def main() -> T:
        es = make_async_client(settings)
        try:
            return await body(es)
        finally:
            await es.close()

    return asyncio.run(main())


def lines() -> list[dict[str, str]]:
    return [json.loads(line) for line in (SAMPLES / "articles.jsonl").read_text().splitlines()]


def bodies() -> tuple[str, str]:
    return lines()[0]["text"], lines()[3]["text"]  # a story and its syndicated copy


def test_a_restarted_worker_still_knows_the_first_copy(fresh: Settings) -> None:
    original, copy = bodies()
    index = fresh.fingerprints_index

    async def body(es: AsyncElasticsearch) -> None:
        before_restart = FingerprintStore(es, index=index)
        assert await before_restart.first_seen("dup-original", fingerprint(original)) is None
        await es.indices.refresh(index=index)

        after_restart = FingerprintStore(es, index=index)
        assert await after_restart.first_seen("dup-copy", fingerprint(copy)) == "dup-original"
        # A replay of either gets its first answer again.
        assert await after_restart.first_seen("dup-copy", fingerprint(copy)) == "dup-original"
        assert await after_restart.first_seen("dup-original", fingerprint(original)) is None

    with_store(fresh, body)


def test_back_to_back_copies_are_caught_before_a_refresh(fresh: Settings) -> None:
    original, copy = bodies()
    texts = lines()

    async def body(es: AsyncElasticsearch) -> None:
        index = FingerprintStore(es, index=fresh.fingerprints_index, recent=2)
        assert await index.first_seen("recent-original", fingerprint(original)) is None
        assert await index.first_seen("recent-copy", fingerprint(copy)) == "recent-original"
        # Two more stories push the original out of the in-process window without error.
        assert await index.first_seen("recent-a", fingerprint(texts[1]["text"])) is None
        assert await index.first_seen("recent-b", fingerprint(texts[2]["text"])) is None

    with_store(fresh, body)


def test_unrelated_stories_are_not_duplicates(fresh: Settings) -> None:
    texts = lines()

    async def body(es: AsyncElasticsearch) -> list[str | None]:
        index = FingerprintStore(es, index=fresh.fingerprints_index)
        return [
            await index.first_seen(f"distinct-{i}", fingerprint(texts[i]["text"]))
            for i in (1, 2, 7, 8)
        ]

    assert with_store(fresh, body) == [None, None, None, None]


def test_an_id_elasticsearch_refuses_is_that_record_s_fault(fresh: Settings) -> None:
    """Elasticsearch refuses ids over 512 bytes: the article is rejected, not retried."""

    async def body(es: AsyncElasticsearch) -> str | None:
        index = FingerprintStore(es, index=fresh.fingerprints_index)
        with pytest.raises(RecordRejected, match="x" * 20):
            await index.first_seen("x" * 600, fingerprint(bodies()[0]))
        # The store still works for the next article.
        return await index.first_seen("after-refused", fingerprint(bodies()[0]))

    assert with_store(fresh, body) is None


def test_an_unreachable_index_is_backpressure_not_a_bad_article() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        es = AsyncElasticsearch(f"http://127.0.0.1:{port}", max_retries=0, request_timeout=2)
        try:
            with pytest.raises(SinkBackpressure, match="unreachable"):
                await FingerprintStore(es, index="news-fingerprints").first_seen(
                    "any", fingerprint(bodies()[0])
                )
        finally:
            await es.close()

    asyncio.run(main())
