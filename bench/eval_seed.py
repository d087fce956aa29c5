"""The seed article (tests/fixtures/seed_article.txt) through full enrichment, checked."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from eval_common import REPO

from streams.enrich import Enricher
from streams.messages import RawArticle
from streams.settings import Settings

SEED = REPO / "tests" / "fixtures" / "seed_article.txt"
PERSONS = {
    "Igor Morgulov",
    "Xi Jinping",
    "Vladimir Putin",
    "Wang Yi",
    "Sergei Shoigu",
    "Sanae Takaichi",
}
PLACES = {"China", "Russia", "Beijing", "Moscow", "Japan", "Taiwan", "Ukraine"}
FURNITURE = ("More Articles", "Latest", "Content is protected", "Tariffs of 21.9%", "Concerns grow")


def evaluate(enricher: Enricher | None = None) -> dict[str, Any]:
    enricher = enricher or Enricher.from_settings(Settings())
    article = enricher.enrich(
        RawArticle(id="seed", title="", text=SEED.read_text(encoding="utf-8")), ingested_at="eval"
    )
    persons = {e.name for e in article.entities if e.label == "PERSON"}
    places = {e.name for e in article.entities if e.label in ("GPE", "LOC")}
    checks = {
        "six persons exactly": persons == PERSONS,
        "places found": places >= PLACES,
        "boilerplate gone": not any(f in article.body for f in FURNITURE),
        "story kept": "safeguarding global fairness and stability." in article.body,
        "author from bio": article.author == "Tejaswini Deshmukh",
        "topic sanctions": any(t.label == "sanctions" for t in article.topics),
    }
    return {
        "checks": checks,
        "persons": sorted(persons),
        "countries": article.countries,
        "topics": [t.label for t in article.topics],
        "categories": [c.label for c in article.categories],
    }


def report(results: dict[str, Any]) -> None:
    passed = sum(results["checks"].values())
    print(f"seed article: {passed}/{len(results['checks'])} checks pass")
    for name, ok in results["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(f"  persons: {', '.join(results['persons'])}; countries: {results['countries']}")
    print(f"  topics: {results['topics']}; categories: {results['categories']}")


def main(argv: Sequence[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    report(evaluate())


if __name__ == "__main__":
    main()
