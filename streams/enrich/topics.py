"""Watch topics from a YAML taxonomy, each match scored and with its evidence.

The taxonomy format is documented at the top of ``streams/data/watch_topics.yaml``.

A topic may also name a trained classifier (``model: topic_models/trade.json``, relative
to the YAML file; see ``streams.enrich.topic_model``). Its score is then the weighted
geometric mean of the lexicon score and the classifier's probability::

    score = lexicon_score ** (1 - model_weight) * probability ** model_weight

and the topic matches when that reaches 0.5, like any other. Both signals must agree:
with ``model_weight <= 0.5`` a topic never matches on a lexicon score under 0.25 (one
passing mention of a word) however sure the classifier is, nor on a probability under
0.25 however many terms are found. Topics without a model score exactly as before
(``score = lexicon_score``).

A classifier reads only the languages it was trained on (``languages`` in its file; the
trade model: English). An article in another language is scored by the topic's terms
alone, which list the other languages' words: an English-only model would otherwise give
a German tariff story a probability near its prior and veto it. The article's language
is the one the pipeline detected (``language=``); when the caller does not know it, it is
detected here, and only if a topic has such a restricted classifier.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from streams.enrich.language import detect_language
from streams.enrich.terms import Hit, Lexicon, Tokens, sentence_at
from streams.enrich.topic_model import TopicModel, load_model
from streams.errors import ConfigError
from streams.messages import TopicMatch

_MAX_TERMS_IN_EVIDENCE = 6
_MAX_SENTENCES_IN_EVIDENCE = 2


@dataclass(frozen=True, slots=True)
class Topic:
    label: str
    threshold: float
    weights: dict[str, float]
    model: TopicModel | None = None
    model_weight: float = 0.0


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
    return parse_taxonomy(data, source=str(path), base_dir=path.parent)


def parse_taxonomy(
    data: Any, *, source: str = "taxonomy", base_dir: Path | None = None
) -> Taxonomy:
    """Validate taxonomy data; model files are read relative to ``base_dir`` (default: cwd)."""
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
        model, model_weight = _parse_model(spec, str(label), source, base_dir)
        topics.append(Topic(str(label), threshold, weights, model, model_weight))
    try:
        lexicon = Lexicon({t.label: t.weights for t in topics})
        return Taxonomy(
            topics=tuple(
                Topic(t.label, t.threshold, lexicon.weights[t.label], t.model, t.model_weight)
                for t in topics
            ),
            lexicon=lexicon,
            title_weight=float(data.get("title_weight", 3.0)),
            lead_words=int(data.get("lead_words", 60)),
            lead_weight=float(data.get("lead_weight", 2.0)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{source}: title_weight / lead_words / lead_weight must be numbers"
        ) from exc


def _parse_model(
    spec: dict[str, Any], label: str, source: str, base_dir: Path | None
) -> tuple[TopicModel | None, float]:
    name = spec.get("model")
    if name is None:
        return None, 0.0
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{source}: topic {label!r}: 'model' must be a file name")
    try:
        weight = float(spec.get("model_weight", 0.5))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: topic {label!r} has a non-numeric model_weight") from exc
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"{source}: topic {label!r}: model_weight must be within [0, 1]")
    path = Path(name) if Path(name).is_absolute() else (base_dir or Path.cwd()) / name
    return load_model(path.resolve()), weight


def combine(lexicon_score: float, probability: float, model_weight: float) -> float:
    """A topic's score from its lexicon score and its classifier's probability.

    A negative lexicon score (negative terms outweighing the others) counts as 0.
    """
    lexicon_score = max(lexicon_score, 0.0)
    return math.pow(lexicon_score, 1.0 - model_weight) * math.pow(probability, model_weight)


def model_text(title: Tokens, body: Tokens) -> str:
    """The text a topic classifier reads: the title, a line break, the body."""
    return f"{title.text}\n{body.text}"


def lexicon_scores(taxonomy: Taxonomy, *, title: Tokens, body: Tokens) -> dict[str, float]:
    """Every topic's lexicon score in [0, 1) (0.5 at its threshold), matched or not."""
    all_body_hits, all_title_hits = taxonomy.lexicon.find(body), taxonomy.lexicon.find(title)
    return {
        topic.label: _lexicon_score(
            topic, all_title_hits[topic.label], all_body_hits[topic.label], taxonomy
        )
        for topic in taxonomy.topics
    }


def classifier_applies(model: TopicModel, language: str | None) -> bool:
    """Whether ``model`` may score an article in ``language`` (None: not known)."""
    return not model.languages or language is None or language in model.languages


def article_language(title: Tokens, body: Tokens) -> str | None:
    """The article's language as the pipeline detects it (from the body, else the title)."""
    return detect_language(body.text if body.text.strip() else title.text)


def match_topics(
    taxonomy: Taxonomy, *, title: Tokens, body: Tokens, language: str | None = None
) -> list[TopicMatch]:
    """The topics whose score reaches 0.5, best first.

    ``language``: the article's ISO 639-1 code if known (the pipeline detects it); a
    topic classifier trained on other languages is then not used (module docstring).

    Evidence: the matched terms, then for a topic with a classifier one line
    ``classifier 0.93: tariffs, trade deficit`` (its probability and the n-grams that
    raised it most), then the body sentences carrying the strongest terms.
    """
    matches = []
    all_body_hits, all_title_hits = taxonomy.lexicon.find(body), taxonomy.lexicon.find(title)
    text: str | None = None
    if language is None and any(t.model is not None and t.model.languages for t in taxonomy.topics):
        language = article_language(title, body)
    for topic in taxonomy.topics:
        body_hits, title_hits = all_body_hits[topic.label], all_title_hits[topic.label]
        score = _lexicon_score(topic, title_hits, body_hits, taxonomy)
        classifier: str | None = None
        if topic.model is not None and classifier_applies(topic.model, language):
            text = model_text(title, body) if text is None else text
            probability, grams = topic.model.explain(text)
            score = combine(score, probability, topic.model_weight)
            classifier = f"classifier {probability:.2f}" + (
                f": {', '.join(grams)}" if grams else ""
            )
        if score >= 0.5:
            evidence = _evidence(topic, [(title, title_hits), (body, body_hits)], classifier)
            matches.append(TopicMatch(label=topic.label, score=round(score, 4), evidence=evidence))
    matches.sort(key=lambda m: -m.score)
    return matches


def _lexicon_score(
    topic: Topic, title_hits: list[Hit], body_hits: list[Hit], taxonomy: Taxonomy
) -> float:
    raw = _raw_score(topic, body_hits, taxonomy) + taxonomy.title_weight * _raw_score(
        topic, title_hits
    )
    return 1.0 - math.pow(0.5, raw / topic.threshold)


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


def _evidence(
    topic: Topic, sources: list[tuple[Tokens, list[Hit]]], classifier: str | None = None
) -> list[str]:
    """The matched words as written (strongest first), the classifier's line if any, then
    the body sentences carrying the strongest words."""
    weights = topic.weights
    surfaces: dict[str, float] = {}
    for tokens, hits in sources:
        for hit in hits:
            if weights[hit.term] <= 0:  # terms that argue against the topic are no evidence
                continue
            surfaces.setdefault(" ".join(tokens.words[hit.first : hit.last + 1]), weights[hit.term])
    terms = sorted(surfaces, key=lambda s: -surfaces[s])[:_MAX_TERMS_IN_EVIDENCE]
    if classifier is not None:
        terms.append(classifier)
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
