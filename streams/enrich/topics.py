"""Watch topics from a YAML taxonomy, each match scored and with its evidence.

The taxonomy format is documented at the top of ``streams/data/watch_topics.yaml``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from streams.enrich.terms import Hit, Lexicon, Tokens, sentence_at
from streams.errors import ConfigError
from streams.models import TopicMatch

_MAX_TERMS_IN_EVIDENCE = 6
_MAX_SENTENCES_IN_EVIDENCE = 2


@dataclass(frozen=True, slots=True)
class Topic:
    label: str
    threshold: float
    weights: dict[str, float]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    lexicon: Lexicon
    title_weight: float = 3.0
    lead_words: int = 60
    lead_weight: float = 2.0


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file; ConfigError names what to fix."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read watch-topic taxonomy {path}: {exc}") from exc
    return parse_taxonomy(data, source=str(path))


def parse_taxonomy(data: Any, *, source: str = "taxonomy") -> Taxonomy:
    if not isinstance(data, dict) or not isinstance(data.get("topics"), dict):
        raise ConfigError(f"{source}: expected a mapping with a 'topics' mapping")
    topics = []
    for label, spec in data["topics"].items():
        terms = spec.get("terms") if isinstance(spec, dict) else None
        if not isinstance(terms, dict) or not terms:
            raise ConfigError(f"{source}: topic {label!r} needs a non-empty 'terms' mapping")
        try:
            weights = {str(term): float(weight) for term, weight in terms.items()}
            threshold = float(spec.get("threshold", 3.0))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: topic {label!r} has a non-numeric weight") from exc
        if threshold <= 0:
            raise ConfigError(f"{source}: topic {label!r} needs a positive threshold")
        topics.append(Topic(label=str(label), threshold=threshold, weights=weights))
    try:
        lexicon = Lexicon({t.label: t.weights for t in topics})
        return Taxonomy(
            topics=tuple(Topic(t.label, t.threshold, lexicon.weights[t.label]) for t in topics),
            lexicon=lexicon,
            title_weight=float(data.get("title_weight", 3.0)),
            lead_words=int(data.get("lead_words", 60)),
            lead_weight=float(data.get("lead_weight", 2.0)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{source}: title_weight / lead_words / lead_weight must be numbers"
        ) from exc


def match_topics(taxonomy: Taxonomy, *, title: Tokens, body: Tokens) -> list[TopicMatch]:
    """The topics whose score reaches 0.5 (their threshold), best first."""
    matches = []
    all_body_hits, all_title_hits = taxonomy.lexicon.find(body), taxonomy.lexicon.find(title)
    for topic in taxonomy.topics:
        body_hits, title_hits = all_body_hits[topic.label], all_title_hits[topic.label]
        raw = _raw_score(topic, body_hits, taxonomy) + taxonomy.title_weight * _raw_score(
            topic, title_hits
        )
        score = 1.0 - 0.5 ** (raw / topic.threshold)
        if score >= 0.5:
            evidence = _evidence(topic, [(title, title_hits), (body, body_hits)])
            matches.append(TopicMatch(label=topic.label, score=round(score, 4), evidence=evidence))
    matches.sort(key=lambda m: -m.score)
    return matches


def _raw_score(topic: Topic, hits: list[Hit], taxonomy: Taxonomy | None = None) -> float:
    """Sum of weight * (1 + log(occurrences)); a term in the lead counts ``lead_weight`` times.

    News puts its subject in the first sentences; a term only found further down
    (exports mentioned in passing in a coffee-market report) weighs less.
    """
    counts: dict[str, int] = defaultdict(int)
    in_lead: set[str] = set()
    for hit in hits:
        counts[hit.term] += 1
        if taxonomy is not None and hit.first < taxonomy.lead_words:
            in_lead.add(hit.term)
    lead_weight = taxonomy.lead_weight if taxonomy is not None else 1.0
    return sum(
        topic.weights[t] * (1.0 + math.log(n)) * (lead_weight if t in in_lead else 1.0)
        for t, n in counts.items()
    )


def _evidence(topic: Topic, sources: list[tuple[Tokens, list[Hit]]]) -> list[str]:
    """The matched words as written (strongest first), then the body sentences carrying them."""
    weights = topic.weights
    surfaces: dict[str, float] = {}
    for tokens, hits in sources:
        for hit in hits:
            if weights[hit.term] <= 0:  # terms that argue against the topic are no evidence
                continue
            surfaces.setdefault(" ".join(tokens.words[hit.first : hit.last + 1]), weights[hit.term])
    terms = sorted(surfaces, key=lambda s: -surfaces[s])[:_MAX_TERMS_IN_EVIDENCE]
    body, body_hits = sources[-1]
    sentences: list[str] = []
    for hit in sorted(body_hits, key=lambda h: -weights[h.term]):
        if weights[hit.term] <= 0:
            break
        sentence = sentence_at(body, hit.first)
        if sentence not in sentences:
            sentences.append(sentence)
        if len(sentences) == _MAX_SENTENCES_IN_EVIDENCE:
            break
    return terms + sentences
