"""Alert matching cost: 10, 100 and 1,000 rules against enrichment, in one process and run.

The rules are generated from the rules-file schema (streams/alerts/rules.py): the default
rules (streams/data/rules.yaml) first, then every query form in turn (topic, category,
entity, entity_label, screening, keywords, query_string, all/any/not), with values drawn
from the watch topics, the IPTC categories and the enriched articles themselves, so some
rules fire and most do not, as in a real rules file. The text is loaded with
``parse_rules``: every generated rule is one the worker would accept.

Per article the match-alerts stage's work is timed: decode the record
(``MatchAlertsStage.decode``) and ``alerts_for`` over every rule. Enrichment of the same
articles (``Enricher.enrich_batch``, batches of 16, duplicates marked) is timed in the
same run. ``python bench/run.py --only rules`` (``--profile`` adds the top functions of a
cProfile run at the largest rule count).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.corpus import ROOT, EnrichedCorpus, enrich, raw_articles
from streams.alerts import ArticleContext, RuleSet, alerts_for, parse_rules
from streams.messages import EnrichedArticle, dumps, enriched_from_json, loads

RULE_COUNTS = (10, 100, 1000)
DEFAULT_RULES = ROOT / "streams" / "data" / "rules.yaml"
WATCH_TOPICS = ROOT / "streams" / "data" / "watch_topics.yaml"
CATEGORIES = ROOT / "streams" / "data" / "iptc_categories.yaml"
LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "PRODUCT", "FAC")
SCREENING_LISTS = ("OFAC SDN", "UN", "EU")
NOW = "2026-12-06T12:00:00Z"


class Vocabulary:
    """Values for generated rules: what the taxonomies name and the articles contain."""

    def __init__(self, articles: Sequence[EnrichedArticle]) -> None:
        self.topics = sorted(yaml.safe_load(WATCH_TOPICS.read_text())["topics"])
        self.categories = sorted(yaml.safe_load(CATEGORIES.read_text())["categories"])
        entities = Counter(e.name for a in articles for e in a.entities)
        self.entities = [name for name, _ in entities.most_common(400)]
        keywords = Counter(k for a in articles for k in a.keywords if k.replace(" ", "").isalpha())
        self.keywords = [word for word, _ in keywords.most_common(600)]
        self.countries = sorted({c for a in articles for c in a.countries}) or ["US"]
        words = Counter(
            w.lower() for a in articles for w in a.title.split() if w.isalpha() and len(w) > 3
        )
        self.words = [word for word, _ in words.most_common(600)]


def generate_rules(count: int, vocabulary: Vocabulary, *, seed: int = 7) -> str:
    """A rules file of ``count`` rules: the defaults, then generated ones of every form."""
    defaults = yaml.safe_load(DEFAULT_RULES.read_text())["rules"][:count]
    rng = random.Random(seed)
    forms = _forms(rng, vocabulary)
    generated = [
        {"id": f"bench-{n:04d}", "name": f"Bench rule {n}", "query": next(forms)}
        for n in range(count - len(defaults))
    ]
    return yaml.safe_dump({"version": 1, "rules": defaults + generated}, sort_keys=False)


def _forms(rng: random.Random, v: Vocabulary) -> Iterator[dict[str, Any]]:
    leaves = [
        lambda: {"topic": rng.choice(v.topics), "min_score": rng.choice([0.0, 0.3, 0.5, 0.8])},
        lambda: {"category": rng.choice(v.categories), "min_score": rng.choice([0.0, 0.4])},
        lambda: {"entity": rng.sample(v.entities, k=rng.randint(1, 4))},
        lambda: {"entity": rng.choice(v.entities), "label": rng.choice(LABELS)},
        lambda: {"entity_label": rng.choice(LABELS)},
        lambda: {"screening": True, "min_score": rng.choice([0.0, 0.9])},
        lambda: {"screening": True, "lists": [rng.choice(SCREENING_LISTS)]},
        lambda: {"keywords": rng.sample(v.keywords, k=rng.randint(1, 5))},
        lambda: {"keywords": rng.sample(v.keywords, k=2), "match": "all"},
        lambda: {"keywords": [" ".join(rng.sample(v.words, k=2)), rng.choice(v.keywords)]},
        lambda: {"query_string": _query_string(rng, v)},
    ]

    def leaf() -> dict[str, Any]:
        return rng.choice(leaves)()

    combinations = [
        lambda: {"all": [leaf(), leaf()]},
        lambda: {"any": [leaf(), leaf(), leaf()]},
        lambda: {"all": [leaf(), {"not": leaf()}]},
        lambda: {"any": [{"all": [leaf(), leaf()]}, leaf()]},
    ]
    while True:
        for make in leaves:
            yield make()
        for combine in combinations:
            yield combine()


def _query_string(rng: random.Random, v: Vocabulary) -> str:
    word, other = rng.sample(v.words, k=2)
    choices = [
        f"topics.label:{rng.choice(v.topics)} AND countries:{rng.choice(v.countries)}",
        f"title:{word}",
        f'"{word} {other}"',
        f'"{word} {other}"~3',
        f"{word[:4]}*",
        f'entities.name:"{rng.choice(v.entities)}"',
        f"categories.score:>0.5 AND {word}",
        f"body:({word} OR {other}) AND NOT {rng.choice(v.words)}",
        f"published_at:[2020-01-01 TO *] AND countries:({rng.choice(v.countries)} OR "
        f"{rng.choice(v.countries)})",
        f"_exists_:author AND {word}",
    ]
    return rng.choice(choices)


def load(text: str) -> RuleSet:
    return parse_rules(
        text, source="<bench>", environ={}, default_webhook_url="http://127.0.0.1:9/hook"
    )


def records(articles: Sequence[EnrichedArticle]) -> list[bytes]:
    """The articles as the match-alerts stage receives them from articles.enriched."""
    return [dumps(article) for article in articles]


def decode(value: bytes) -> ArticleContext:
    """What ``MatchAlertsStage.decode`` does with a record's value."""
    document = loads(value)
    return ArticleContext(enriched_from_json(document), doc=document)


def time_matching(rules: RuleSet, batch: Sequence[bytes]) -> dict[str, Any]:
    """Decode and match each record as the stage does (publishing left out)."""
    per_article: list[float] = []
    fired = 0
    for record in batch:
        start = time.perf_counter()
        context = decode(record)
        alerts = alerts_for(rules, context, now=NOW)
        per_article.append(time.perf_counter() - start)
        fired += len(alerts)
    return {
        "rules": len(rules.rules),
        "mean_ms_per_article": round(statistics.fmean(per_article) * 1000, 3),
        "p50_ms": round(statistics.median(per_article) * 1000, 3),
        "p99_ms": round(sorted(per_article)[int(0.99 * (len(per_article) - 1))] * 1000, 3),
        "alerts": fired,
        "alerts_per_article": round(fired / len(batch), 1),
    }


def time_decode(batch: Sequence[bytes]) -> float:
    start = time.perf_counter()
    for record in batch:
        decode(record)
    return (time.perf_counter() - start) / len(batch) * 1000


def profile(rules: RuleSet, batch: Sequence[bytes]) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for record in batch:
        alerts_for(rules, decode(record), now=NOW)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    return out.getvalue()


def run_rules(
    data: Path,
    *,
    articles: int = 300,
    counts: Sequence[int] = RULE_COUNTS,
    with_profile: bool = False,
    corpus: EnrichedCorpus | None = None,
) -> dict[str, Any]:
    corpus = corpus or enrich(raw_articles(data, articles))
    vocabulary = Vocabulary(corpus.articles)
    batch = records(corpus.articles)
    time_matching(load(generate_rules(10, vocabulary)), batch[:20])  # warm caches
    enrich_ms = corpus.seconds_per_article * 1000
    results = []
    for count in counts:
        result = time_matching(load(generate_rules(count, vocabulary)), batch)
        result["share_of_enrichment"] = round(result["mean_ms_per_article"] / enrich_ms, 4)
        results.append(result)
    outcome: dict[str, Any] = {
        "command": "python bench/run.py --only rules",
        "articles": len(batch),
        "enrichment_ms_per_article": round(enrich_ms, 2),
        "decode_ms_per_article": round(time_decode(batch), 3),
        "matching": results,
    }
    if with_profile:
        rules = load(generate_rules(max(counts), vocabulary))
        outcome["profile"] = profile(rules, batch)
    return outcome
