"""A small trained text classifier for one watch topic, scored in pure Python.

The model is a logistic regression over sublinear tf-idf features of word 1- and
2-grams, trained by ``training/train_topics.py`` and stored as JSON (never pickle)::

    {
      "format": "newsstream-topic-model/1",
      "label": "trade",
      "features": {"tokenizer": "letters-v1", "ngram_max": 2, "sublinear_tf": true,
                   "norm": "l2"},
      "intercept": -1.23,
      "terms": {"tariff": [idf, coefficient], "trade deficit": [idf, coefficient], ...},
      "languages": ["en"],
      "source": "...", "licence": "...", "metrics": {...}
    }

``languages`` (optional; absent: any) names the languages of the training texts: the
watch topics do not ask the model about articles in other languages
(``streams.enrich.topics.classifier_applies``).

Scoring an article: the features of ``title + "\\n" + body`` (see ``features``), each
term of the model's vocabulary weighted ``(1 + log(count)) * idf``, the vector scaled to
unit length, then ``p = 1 / (1 + exp(-(intercept + sum(weight * coefficient))))``.
Training fits on exactly this vocabulary and this tokenisation (it calls ``features``
from this module), so the probabilities here are the ones cross-validated there. The
words are ``streams.tokens.letter_words``; a file whose ``features.tokenizer``
names another tokenizer is refused rather than scored on features it was not fitted on.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from streams.errors import ConfigError
from streams.tokens import LETTER_WORDS_TOKENIZER, letter_words

FORMAT = "newsstream-topic-model/1"
# The only tokenizer a model file may name: the one ``features`` uses.
TOKENIZER = LETTER_WORDS_TOKENIZER
# Still importable as ``topic_model.tokens``, the name training/README.md documents.
tokens = letter_words


def features(text: str, *, ngram_max: int = 2) -> list[str]:
    """The word n-grams (1..ngram_max) of ``text``, space-joined, in reading order."""
    words = letter_words(text)
    grams = list(words)
    for n in range(2, ngram_max + 1):
        grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return grams


@dataclass(frozen=True, slots=True)
class TopicModel:
    """A loaded model: ``terms`` maps an n-gram to ``(idf, coefficient)``."""

    label: str
    intercept: float
    terms: dict[str, tuple[float, float]]
    ngram_max: int = 2
    path: str = ""
    languages: tuple[str, ...] = ()  # ISO 639-1 codes it was trained on; empty: any
    metrics: dict[str, Any] = field(default_factory=dict)  # as training recorded them

    def probability(self, text: str) -> float:
        """P(topic | text), in [0, 1]."""
        return _sigmoid(self._logit(text)[0])

    def explain(self, text: str, *, top: int = 3) -> tuple[float, list[str]]:
        """The probability and the n-grams that pushed it up most, strongest first."""
        logit, contributions = self._logit(text)
        positive = sorted((c for c in contributions.items() if c[1] > 0), key=lambda c: -c[1])
        return _sigmoid(logit), [term for term, _ in positive[:top]]

    def _logit(self, text: str) -> tuple[float, dict[str, float]]:
        found = known_ngrams(text, self.terms, ngram_max=self.ngram_max)
        contributions = {term: x * entry[1] for term, x, entry in found}
        return self.intercept + sum(contributions.values()), contributions


# A model's entry for an n-gram: its idf first, then what the model weighs it by.
Entry = TypeVar("Entry", bound=tuple[float, Any])


def known_ngrams(
    text: str, terms: Mapping[str, Entry], *, ngram_max: int
) -> list[tuple[str, float, Entry]]:
    """The n-grams of ``text`` a model knows, each with its feature value as training
    computed it (sublinear tf times idf, the vector l2-normalised) and its entry."""
    found: list[tuple[str, float, Entry]] = []
    squares = 0.0
    for term, count in Counter(features(text, ngram_max=ngram_max)).items():
        entry = terms.get(term)
        if entry is not None:
            weight = (1.0 + math.log(count)) * entry[0]
            found.append((term, weight, entry))
            squares += weight * weight
    if not squares:  # nothing known, or only n-grams of idf 0: an empty vector
        return []
    scale = 1.0 / math.sqrt(squares)
    return [(term, weight * scale, entry) for term, weight, entry in found]


def check_features(data: Any, *, fmt: str, source: str) -> dict[str, Any]:
    """The ``features`` settings of a model file in format ``fmt``, checked against what
    ``features`` computes here; ConfigError names what is wrong."""
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ConfigError(f"{source}: not a {fmt} file")
    settings = data.get("features")
    if not isinstance(settings, dict) or settings.get("tokenizer") != TOKENIZER:
        raise ConfigError(f"{source}: needs features.tokenizer {TOKENIZER!r}")
    if settings.get("sublinear_tf") is not True or settings.get("norm") != "l2":
        raise ConfigError(f"{source}: only sublinear_tf=true with norm='l2' is supported")
    return settings


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def parse_model(data: Any, *, source: str = "topic model") -> TopicModel:
    """Validate a model's JSON data; ConfigError names what is wrong."""
    settings = check_features(data, fmt=FORMAT, source=source)
    terms = data.get("terms")
    if not isinstance(terms, dict) or not terms:
        raise ConfigError(f"{source}: needs a non-empty 'terms' mapping")
    try:
        ngram_max = int(settings.get("ngram_max", 2))
        parsed = {str(t): (float(v[0]), float(v[1])) for t, v in terms.items()}
        intercept = float(data["intercept"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ConfigError(f"{source}: intercept and [idf, coefficient] must be numbers") from exc
    if ngram_max < 1:
        raise ConfigError(f"{source}: ngram_max must be at least 1")
    languages = data.get("languages", [])
    if not isinstance(languages, list) or not all(isinstance(c, str) for c in languages):
        raise ConfigError(f"{source}: 'languages' must be a list of ISO 639-1 codes")
    return TopicModel(
        label=str(data.get("label", "")),
        intercept=intercept,
        terms=parsed,
        ngram_max=ngram_max,
        path=source,
        languages=tuple(languages),
        metrics=dict(data["metrics"]) if isinstance(data.get("metrics"), dict) else {},
    )


@lru_cache(maxsize=32)
def load_model(path: Path) -> TopicModel:
    """Read a model file once per process (workers share the loaded model)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read topic model {path}: {exc}") from exc
    return parse_model(data, source=str(path))
