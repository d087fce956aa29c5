"""IPTC Media Topics (top level) for an article, scored, best first.

Scores come from weighted term lists per category (``streams/data/iptc_categories.yaml``):
each category's evidence is ``sum(weight * (1 + log(count)))`` with title words counted
``title_weight`` times; scores are the evidence shares, so they add up to one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from streams.enrich.terms import Hit, Lexicon, Tokens
from streams.errors import ConfigError
from streams.messages import ScoredLabel
from streams.settings import PACKAGE_DATA

IPTC_TOP_LEVEL = (
    "arts, culture, entertainment and media",
    "conflict, war and peace",
    "crime, law and justice",
    "disaster, accident and emergency incident",
    "economy, business and finance",
    "education",
    "environment",
    "health",
    "human interest",
    "labour",
    "lifestyle and leisure",
    "politics",
    "religion",
    "science and technology",
    "society",
    "sport",
    "weather",
)
DEFAULT_LEXICON = PACKAGE_DATA / "iptc_categories.yaml"


@dataclass(frozen=True, slots=True)
class CategoryModel:
    lexicon: Lexicon
    title_weight: float = 2.0
    min_share: float = 0.1
    max_labels: int = 3


def load_categories(path: Path = DEFAULT_LEXICON) -> CategoryModel:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        categories = data["categories"]
        terms = {
            str(label): {str(t): float(w) for t, w in weights.items()}
            for label, weights in categories.items()
        }
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"cannot read category lexicon {path}: {exc}") from exc
    unknown = set(terms) - set(IPTC_TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{path}: not IPTC top-level Media Topics: {sorted(unknown)}")
    return CategoryModel(lexicon=Lexicon(terms))


def categorize(model: CategoryModel, *, title: Tokens, body: Tokens) -> list[ScoredLabel]:
    """Categories whose share of the evidence is at least ``min_share``, best first."""
    weights = model.lexicon.weights
    body_hits, title_hits = model.lexicon.find(body), model.lexicon.find(title)
    evidence = {
        label: _evidence(weights[label], body_hits[label])
        + model.title_weight * _evidence(weights[label], title_hits[label])
        for label in weights
    }
    total = sum(evidence.values())
    if total <= 0:
        return []
    ranked = sorted(evidence.items(), key=lambda item: -item[1])[: model.max_labels]
    return [
        ScoredLabel(label=label, score=round(value / total, 4))
        for label, value in ranked
        if value / total >= model.min_share
    ]


def _evidence(weights: dict[str, float], hits: list[Hit]) -> float:
    counts: dict[str, int] = defaultdict(int)
    for hit in hits:
        counts[hit.term] += 1
    return sum(weights[t] * (1.0 + math.log(n)) for t, n in counts.items())
