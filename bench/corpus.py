"""Articles for the sink, rules, memory, e2e and scaling benchmarks: the samples and BBC News texts,
raw or enriched once in this process (so enrichment is timed only where it is meant to be).
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from streams.messages import EnrichedArticle

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "articles.jsonl"
BATCH = 16  # the worker's enrich batch (NEWSSTREAM_ENRICH_BATCH_SIZE default)


def raw_articles(data: Path, limit: int) -> list[dict[str, str]]:
    """The samples, then BBC articles, ``limit`` in all, each with a URL of its own."""
    samples = [orjson.loads(line) for line in SAMPLES.read_bytes().splitlines() if line.strip()]
    with (data / "bbc" / "bbc_news.csv").open(newline="", encoding="utf-8") as f:
        bbc = [
            {"url": f"https://bbc.example/{n}", "title": row["title"], "text": row["text"]}
            for n, row in enumerate(csv.DictReader(f))
        ]
    return (samples + bbc)[:limit]


def repeated(articles: list[dict[str, str]], total: int, run: str) -> Iterator[dict[str, str]]:
    """``total`` raw articles cycling through ``articles``, each with a distinct URL (id)."""
    for n in range(total):
        article = articles[n % len(articles)]
        yield {**article, "url": f"https://bench.example/{run}/{n}"}


def distinct(articles: list[dict[str, str]], total: int, run: str) -> Iterator[dict[str, str]]:
    """``total`` raw articles, none a near-duplicate of another (``distinct_article``)."""
    texts = [a for a in articles if a.get("text")]  # not the sample given as HTML
    for n in range(total):
        yield distinct_article(texts, n, run)


def distinct_article(texts: list[dict[str, str]], n: int, run: str) -> dict[str, str]:
    """Article ``n`` of a run: the first half of one text and the second half of another, a
    pair no other ``n`` below len(texts)² has (shared halves keep the Jaccard similarity
    near 1/3, under the 0.8 of streams/enrich/dedup.py). Copies would be marked duplicates
    and alert once per story: a rate test must not depend on how many rounds of the corpus
    it took. ``texts`` must all have a "text"."""
    count = len(texts)
    first, second = texts[n % count], texts[(n + 1 + n // count) % count]
    body = " ".join((halves(first["text"])[0], halves(second["text"])[1]))
    return {"url": f"https://bench.example/{run}/{n}", "title": first["title"], "text": body}


def halves(text: str) -> tuple[str, str]:
    """A text cut at the sentence end nearest its middle."""
    cut = text.find(". ", len(text) // 2)
    if cut < 0:
        return text, ""
    return text[: cut + 1], text[cut + 2 :]


@dataclass(frozen=True)
class EnrichedCorpus:
    articles: list[EnrichedArticle]
    seconds: float  # enrichment alone, after a warm-up batch

    @property
    def seconds_per_article(self) -> float:
        return self.seconds / len(self.articles)


def enrich(articles: list[dict[str, str]]) -> EnrichedCorpus:
    """Enrich as the worker does: batches of 16, duplicates marked (in memory here)."""
    from streams.enrich import Enricher, InMemoryDuplicateIndex, mark_duplicates
    from streams.messages import parse_raw_article
    from streams.settings import Settings

    enricher = Enricher.from_settings(Settings.from_env())
    raws = [parse_raw_article(a) for a in articles]
    enricher.enrich_batch(raws[:BATCH], ingested_at="2026-12-06T00:00:00Z")  # lazy set-up
    duplicates = InMemoryDuplicateIndex()
    enriched: list[EnrichedArticle] = []
    start = time.perf_counter()
    for i in range(0, len(raws), BATCH):
        batch = enricher.enrich_batch(raws[i : i + BATCH], ingested_at="2026-12-06T00:00:00Z")
        enriched.extend(
            r for r in mark_duplicates(batch, duplicates) if not isinstance(r, Exception)
        )
    return EnrichedCorpus(enriched, time.perf_counter() - start)


def copies(articles: list[EnrichedArticle], total: int) -> list[EnrichedArticle]:
    """``total`` documents cycling through ``articles``, each with an id of its own."""
    out = []
    for n in range(total):
        article = articles[n % len(articles)]
        doc_id = hashlib.sha256(f"{article.id}/{n}".encode()).hexdigest()[:32]
        out.append(replace(article, id=doc_id))
    return out


def documents(articles: list[EnrichedArticle]) -> list[dict[str, Any]]:
    """The JSON form of each article, as the worker indexes it."""
    return [orjson.loads(orjson.dumps(article)) for article in articles]
