"""IPTC Media Topics (top level) for an article, scored, best first, with their evidence.

Two signals, combined:

* **Lexicon** (``streams/data/iptc_categories.yaml``): weighted term lists for all 17
  top-level topics. A category's evidence is ``sum(weight * (1 + log(count)))`` with title
  words counted ``title_weight`` times; its share is its part of the total evidence.
* **Classifier** (``streams/data/categories/classifier.json``, trained by
  ``training/train_categories.py``): a multinomial logistic regression over sublinear
  tf-idf word 1-2 grams of ``title + "\n" + body`` (the features of
  ``streams.enrich.topic_model``), scored here in pure Python. It knows only the classes
  its training data has (politics/world news, economy, sport, science and technology,
  arts).

Combination: ``score = (1 - v) * lexicon_share + v * probability`` per topic, where the
classifier's weight ``v = w * (1 - U)`` shrinks with the lexicon share ``U`` of the topics
the classifier never saw (conflict, crime, disaster, health, weather, ...): where the
lexicon finds those, it keeps its say, so those labels come out as before; where it finds
only the classifier's kinds of topic, the classifier decides with weight w (recorded in the
model file, chosen by cross-validation there). Scores add up to one. A text with no
lexicon term is scored by the classifier alone (short items).
Each returned label carries ``evidence``: the words matched by the lexicon and the
classifier n-grams that raised it most, so an alert can show why an article is "sport".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import yaml

from streams.enrich.terms import Hit, Lexicon, Tokens
from streams.enrich.topic_model import check_features, known_ngrams
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
# The four broad classes of common news benchmarks (world, sport, business, sci/tech), in
# one place for the evaluation and the training script. Arts has no counterpart there:
# it is its own broad class "arts", and a benchmark of the four scores it as wrong.
BROAD_CLASS = {
    "arts, culture, entertainment and media": "arts",
    "conflict, war and peace": "world",
    "crime, law and justice": "world",
    "disaster, accident and emergency incident": "world",
    "economy, business and finance": "business",
    "education": "world",
    "environment": "world",
    "health": "world",
    "human interest": "world",
    "labour": "world",
    "lifestyle and leisure": "arts",
    "politics": "world",
    "religion": "world",
    "science and technology": "sci/tech",
    "society": "world",
    "sport": "sport",
    "weather": "world",
}
DEFAULT_LEXICON = PACKAGE_DATA / "iptc_categories.yaml"
DEFAULT_CLASSIFIER = PACKAGE_DATA / "categories" / "classifier.json"
CLASSIFIER_FORMAT = "newsstream-category-model/1"
EVIDENCE_TERMS = 3  # per signal; a label shows at most 2 * EVIDENCE_TERMS, deduplicated
# Classes less likely than this cannot make a label's score reach min_share: not explained.
EVIDENCE_MIN_PROBABILITY = 0.1
# An n-gram in more than about a fifth of the training texts (idf = 1 + ln((1 + n) / (1 + df)))
# is no evidence an analyst can use.
EVIDENCE_MIN_IDF = 2.5


@dataclass(frozen=True, slots=True)
class Prediction:
    """The classifier's probability per class and, per class, the n-grams that raised it."""

    probabilities: dict[str, float]
    evidence: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class CategoryClassifier:
    """A loaded classifier: ``terms`` maps an n-gram to ``(idf, coefficient per class)``."""

    classes: tuple[str, ...]
    intercepts: tuple[float, ...]
    terms: dict[str, tuple[float, tuple[float, ...]]]
    model_weight: float
    ngram_max: int = 2
    metrics: dict[str, Any] = field(default_factory=dict)

    def predict(self, text: str) -> Prediction | None:
        """Class probabilities of ``text``; None when it has no n-gram the model knows."""
        found = known_ngrams(text, self.terms, ngram_max=self.ngram_max)
        if not found:
            return None
        logits = list(self.intercepts)
        width = len(logits)
        for _, x, (_, coefficients) in found:
            for k in range(width):
                logits[k] += x * coefficients[k]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        probabilities = {c: e / total for c, e in zip(self.classes, exps, strict=True)}
        evidence = {
            label: _raisers(found, k)
            for k, label in enumerate(self.classes)
            if probabilities[label] >= EVIDENCE_MIN_PROBABILITY
        }
        return Prediction(probabilities, evidence)


def _raisers(
    found: Sequence[tuple[str, float, tuple[float, tuple[float, ...]]]], k: int
) -> list[str]:
    """The n-grams pushing class ``k`` above the average class most, strongest first.

    Words found in most documents ("the", "said") explain nothing and are left out.
    """
    lift = []
    for term, x, (idf, coefficients) in found:
        margin = coefficients[k] - sum(coefficients) / len(coefficients)
        if margin > 0 and idf >= EVIDENCE_MIN_IDF:
            lift.append((x * margin, term))
    lift.sort(key=lambda item: (-item[0], item[1]))
    return [term for _, term in lift[:EVIDENCE_TERMS]]


@dataclass(frozen=True, slots=True)
class CategoryModel:
    lexicon: Lexicon
    title_weight: float = 2.0
    min_share: float = 0.1
    max_labels: int = 3
    classifier: CategoryClassifier | None = None


def load_categories(
    path: Path = DEFAULT_LEXICON, classifier: Path | None = DEFAULT_CLASSIFIER
) -> CategoryModel:
    """The lexicon at ``path`` and, unless ``classifier`` is None, the trained classifier."""
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
    return CategoryModel(
        lexicon=Lexicon(terms),
        classifier=None if classifier is None else load_classifier(classifier),
    )


@lru_cache(maxsize=8)
def load_classifier(path: Path) -> CategoryClassifier:
    """Read a classifier file once per process (every enricher shares the loaded model)."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(
            f"cannot read category classifier {path}: {exc}; retrain it with "
            "training/train_categories.py or pass classifier=None for the lexicon alone"
        ) from exc
    return parse_classifier(data, source=str(path))


def parse_classifier(data: Any, *, source: str = "category classifier") -> CategoryClassifier:
    """Validate a classifier's JSON data; ConfigError names what is wrong."""
    settings = check_features(data, fmt=CLASSIFIER_FORMAT, source=source)
    try:
        classes = tuple(str(c) for c in data["classes"])
        intercepts = tuple(float(b) for b in data["intercepts"])
        terms = {
            str(t): (float(v[0]), tuple(float(c) for c in v[1:])) for t, v in data["terms"].items()
        }
        model_weight = float(data["combination"]["model_weight"])
        ngram_max = int(settings.get("ngram_max", 2))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{source}: malformed classifier ({exc!r})") from exc
    _check_classifier(source, classes, intercepts, terms, model_weight)
    return CategoryClassifier(
        classes=classes,
        intercepts=intercepts,
        terms=terms,
        model_weight=model_weight,
        ngram_max=ngram_max,
        metrics=dict(data["metrics"]) if isinstance(data.get("metrics"), dict) else {},
    )


def _check_classifier(
    source: str,
    classes: tuple[str, ...],
    intercepts: tuple[float, ...],
    terms: Mapping[str, tuple[float, tuple[float, ...]]],
    model_weight: float,
) -> None:
    if not classes or len(intercepts) != len(classes) or not terms:
        raise ConfigError(f"{source}: needs classes, one intercept per class and terms")
    if any(len(c) != len(classes) for _, c in terms.values()):
        raise ConfigError(f"{source}: every term needs [idf, one coefficient per class]")
    unknown = set(classes) - set(IPTC_TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{source}: not IPTC top-level Media Topics: {sorted(unknown)}")
    if not 0.0 <= model_weight <= 1.0:
        raise ConfigError(f"{source}: model_weight must be in [0, 1]")


def categorize(model: CategoryModel, *, title: Tokens, body: Tokens) -> list[ScoredLabel]:
    """Categories whose combined score is at least ``min_share``, best first."""
    shares, lexicon_terms = lexicon_shares(model, title=title, body=body)
    classifier = model.classifier
    prediction = None
    if classifier is not None:
        prediction = classifier.predict(f"{title.text}\n{body.text}")
    if prediction is None or classifier is None:
        scores, model_terms = shares, {}
    else:
        scores = combine(shares, prediction.probabilities, classifier.model_weight)
        model_terms = prediction.evidence
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: model.max_labels]
    return [
        ScoredLabel(
            label=label,
            score=round(score, 4),
            evidence=_merge(lexicon_terms.get(label, []), model_terms.get(label, [])),
        )
        for label, score in ranked
        if score >= model.min_share and score > 0
    ]


def lexicon_shares(
    model: CategoryModel, *, title: Tokens, body: Tokens
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Each category's share of the lexicon evidence (empty: no term found) and its terms."""
    weights = model.lexicon.weights
    body_hits, title_hits = model.lexicon.find(body), model.lexicon.find(title)
    evidence: dict[str, float] = {}
    terms: dict[str, list[str]] = {}
    for label in weights:
        contributions = _contributions(weights[label], body_hits[label], body)
        for term, value in _contributions(weights[label], title_hits[label], title).items():
            contributions[term] = contributions.get(term, 0.0) + model.title_weight * value
        total = sum(contributions.values())
        if total > 0:
            evidence[label] = total
            ordered = sorted(contributions.items(), key=lambda item: (-item[1], item[0]))
            terms[label] = [term for term, _ in ordered[:EVIDENCE_TERMS]]
    grand = sum(evidence.values())
    return {label: value / grand for label, value in evidence.items()}, terms


def combine(
    shares: Mapping[str, float], probabilities: Mapping[str, float], model_weight: float
) -> dict[str, float]:
    """Lexicon shares and class probabilities in one score per topic (see the module doc)."""
    if not shares:
        return dict(probabilities)
    unseen = sum(v for label, v in shares.items() if label not in probabilities)
    weight = model_weight * (1.0 - unseen)
    scores = {label: (1.0 - weight) * v for label, v in shares.items()}
    for label, p in probabilities.items():
        scores[label] = scores.get(label, 0.0) + weight * p
    return scores


def _merge(*lists: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for terms in lists:
        for term in terms:
            seen.setdefault(term, None)
    return tuple(seen)


def _contributions(weights: dict[str, float], hits: list[Hit], tokens: Tokens) -> dict[str, float]:
    """Each term's evidence, keyed by the words it matched first ("earthquake", not "earth*")."""
    counts: dict[str, int] = defaultdict(int)
    surface: dict[str, str] = {}
    for hit in hits:
        counts[hit.term] += 1
        surface.setdefault(hit.term, " ".join(tokens.words[hit.first : hit.last + 1]))
    return {surface[t]: weights[t] * (1.0 + math.log(n)) for t, n in counts.items()}
