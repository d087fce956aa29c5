"""The fingerprint store in Elasticsearch: duplicates are remembered across worker restarts.

One document per article id in ``news-fingerprints``, holding the body's content hash,
its MinHash LSH bands and signature, and the id of the original it duplicates. A lookup
is one search on the hash or any band (keyword terms, exact), the candidates verified
by their estimated similarity. The first writer of an article id wins
(``op_type=create``), so a replay gets the same answer. The worker's enrich stage asks
it after the (pure, offline) enrichment: it meets ``streams.enrich.DuplicateIndex``
with awaitable answers.

Search sees documents after the index's refresh (1 s); the fingerprints this worker
recorded since are kept in process too, so copies arriving back to back are caught
without forcing a refresh per article.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict, deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from elasticsearch import (
    ApiError,
    AsyncElasticsearch,
    ConflictError,
    NotFoundError,
    TransportError,
)

from streams.elastic.client import as_sink_error

if TYPE_CHECKING:  # the enrich package loads spaCy: not for `newsstream setup`
    from streams.enrich import Fingerprint


class FingerprintStore:
    def __init__(self, es: AsyncElasticsearch, *, index: str, recent: int = 1_000) -> None:
        """``recent``: how many of this worker's latest documents are kept in process;
        search sees them only after a refresh (1 s), and 1,000 covers more than that."""
        self._es = es
        self._index = index
        self._recent_size = recent
        # This worker's latest documents by lookup key (content hash, each band), so a
        # lookup checks only the few that share a key, as the search does.
        self._recent: deque[dict[str, Any]] = deque()
        self._recent_by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)

    async def first_seen(self, article_id: str, fp: Fingerprint) -> str | None:
        """As ``DuplicateIndex.first_seen``; raises SinkBackpressure (wait and ask again)
        or RecordRejected (Elasticsearch cannot take this article id)."""
        try:
            seen = await self._recorded(article_id)
            if seen is not None:  # a replay: the first answer stands
                original = seen.get("original_id")
                return None if original in (None, article_id) else str(original)
            original = self._in_recent(article_id, fp) or await self._find_original(article_id, fp)
            await self._remember(article_id, fp, original)
        except (ApiError, TransportError) as exc:
            raise as_sink_error(exc, f"fingerprint of article {article_id}") from exc
        return original

    async def _recorded(self, article_id: str) -> dict[str, Any] | None:
        try:
            found = await self._es.get(index=self._index, id=article_id)
            source: dict[str, Any] = found["_source"]
        except NotFoundError:
            return None
        return source

    def _matches(self, seen: dict[str, Any], fp: Fingerprint) -> bool:
        return fp.matches_stored(seen["content_hash"], seen.get("signature"))

    def _in_recent(self, article_id: str, fp: Fingerprint) -> str | None:
        for key in (fp.content_hash, *fp.bands()):
            for seen in self._recent_by_key.get(key, ()):
                if seen["article_id"] != article_id and self._matches(seen, fp):
                    return str(seen["original_id"])
        return None

    def _remember_recent(self, document: dict[str, Any]) -> None:
        if len(self._recent) == self._recent_size:
            oldest = self._recent.popleft()
            for key in (oldest["content_hash"], *oldest["bands"]):
                self._recent_by_key[key].remove(oldest)
                if not self._recent_by_key[key]:
                    del self._recent_by_key[key]
        self._recent.append(document)
        for key in (document["content_hash"], *document["bands"]):
            self._recent_by_key[key].append(document)

    async def _find_original(self, article_id: str, fp: Fingerprint) -> str | None:
        should: list[dict[str, Any]] = [{"term": {"content_hash": fp.content_hash}}]
        bands = fp.bands()
        if bands:
            should.append({"terms": {"bands": bands}})
        found = await self._es.search(
            index=self._index,
            query={
                "bool": {
                    "should": should,
                    "minimum_should_match": 1,
                    "must_not": [{"term": {"article_id": article_id}}],
                }
            },
            sort=[{"seen_at": "asc"}],
            size=50,
        )
        for hit in found["hits"]["hits"]:
            if self._matches(hit["_source"], fp):
                return str(hit["_source"].get("original_id") or hit["_source"]["article_id"])
        return None

    async def _remember(self, article_id: str, fp: Fingerprint, original: str | None) -> None:
        document = {
            "article_id": article_id,
            "original_id": original or article_id,
            "content_hash": fp.content_hash,
            "bands": fp.bands(),
            "signature": fp.encoded(),
            "seen_at": datetime.now(UTC).isoformat(),
        }
        # Another worker may have recorded it first: its answer stands.
        with contextlib.suppress(ConflictError):
            await self._es.create(index=self._index, id=article_id, document=document)
        # Only once stored: an id Elasticsearch refused must not be found in process.
        self._remember_recent(document)
