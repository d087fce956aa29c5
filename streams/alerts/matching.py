"""The query forms of an alert rule, and how an enriched article is matched against them.

Each form is a frozen dataclass; ``evaluate(condition, ArticleContext(article))`` says
whether it matched and why, in words an analyst can check against the article::

    topic: sanctions          (optional min_score: 0.6)  a watch topic the enrichment found
    category: economy         (optional min_score)       an IPTC category
    entity: "Sergei Shoigu"   (or a list; optional label: PERSON) a named entity, any case
    entity_label: PERSON                                 any entity of that label
    screening: true           (optional min_score, lists) a sanctions-list screening hit
    keywords: [sanction, "export control"]  (optional match: all)
                              words and phrases in title or body, whole words, stemmed:
                              "sanction" finds "sanctions" and "sanctioned", "tariff"
                              finds "tariffs" but not "tariffless"
    query_string: 'topics.label:sanctions AND countries:CN'  (see streams.alerts.query)
    all: [...] / any: [...] / not: {...}                 combinations of the above
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from streams.alerts.analysis import snowball_language, standard_tokens, stem
from streams.alerts.query import (
    DocView,
    Outcome,
    QueryNode,
    evaluate,
    matches,
    parse_query_string,
)
from streams.errors import ConfigError
from streams.messages import EnrichedArticle, Entity


@dataclass(frozen=True, slots=True)
class TopicCondition:
    topic: str
    min_score: float = 0.0


@dataclass(frozen=True, slots=True)
class CategoryCondition:
    category: str
    min_score: float = 0.0


@dataclass(frozen=True, slots=True)
class EntityCondition:
    names: tuple[str, ...]
    label: str | None = None


@dataclass(frozen=True, slots=True)
class EntityLabelCondition:
    label: str


@dataclass(frozen=True, slots=True)
class ScreeningCondition:
    min_score: float = 0.0
    lists: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KeywordsCondition:
    terms: tuple[str, ...]
    match_all: bool = False


@dataclass(frozen=True, slots=True)
class QueryStringCondition:
    query: str
    compiled: QueryNode


@dataclass(frozen=True, slots=True)
class AllCondition:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyCondition:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class NotCondition:
    condition: Condition


Condition = (
    TopicCondition
    | CategoryCondition
    | EntityCondition
    | EntityLabelCondition
    | ScreeningCondition
    | KeywordsCondition
    | QueryStringCondition
    | AllCondition
    | AnyCondition
    | NotCondition
)


class ArticleContext:
    """One article with the views rules need, each computed at most once."""

    def __init__(self, article: EnrichedArticle, doc: Mapping[str, Any] | None = None) -> None:
        """``doc``: the article's JSON form when the caller has it (the worker decoded it
        from the record), so query-string rules need not encode the article again."""
        self.article = article
        self.algorithm = snowball_language(article.language)
        self._doc: DocView | None = None if doc is None else DocView(doc)
        self._stems: dict[str, list[tuple[str, str]]] | None = None
        self._stem_starts: dict[str, dict[str, list[int]]] | None = None
        self._entity_positions: dict[str, list[int]] | None = None
        self._entity_labels: frozenset[str] | None = None

    @property
    def doc(self) -> DocView:
        """The article as Elasticsearch indexes it, for query_string rules."""
        if self._doc is None:
            self._doc = DocView(orjson.loads(orjson.dumps(self.article)))
        return self._doc

    @property
    def stems(self) -> dict[str, list[tuple[str, str]]]:
        """Field -> (stem, token) pairs in order, for keyword rules."""
        if self._stems is None:
            self._stems = {
                field: [(stem(token, self.algorithm), token) for token in standard_tokens(text)]
                for field, text in (("title", self.article.title), ("body", self.article.body))
            }
        return self._stems

    @property
    def stem_starts(self) -> dict[str, dict[str, list[int]]]:
        """Field -> stem -> its positions in ``stems``, ascending: a keyword is looked for
        only where its first word occurs, not at every token (1,000 rules name thousands
        of keywords; an article has a few hundred tokens)."""
        if self._stem_starts is None:
            self._stem_starts = {}
            for field, pairs in self.stems.items():
                starts: dict[str, list[int]] = {}
                for position, (stemmed, _) in enumerate(pairs):
                    starts.setdefault(stemmed, []).append(position)
                self._stem_starts[field] = starts
        return self._stem_starts

    @property
    def entity_positions(self) -> dict[str, list[int]]:
        """Entity key (see ``_entity_key``) -> positions in ``article.entities``, ascending:
        each entity's name is normalised once per article, not once per entity rule."""
        if self._entity_positions is None:
            self._entity_positions = {}
            for position, entity in enumerate(self.article.entities):
                self._entity_positions.setdefault(_entity_key(entity.name), []).append(position)
        return self._entity_positions

    @property
    def entity_labels(self) -> frozenset[str]:
        """The labels of the article's entities, upper-cased."""
        if self._entity_labels is None:
            self._entity_labels = frozenset(e.label.upper() for e in self.article.entities)
        return self._entity_labels


# --- parsing the rules-file form --------------------------------------------------------

_FORMS: Mapping[str, frozenset[str]] = {
    "topic": frozenset({"min_score"}),
    "category": frozenset({"min_score"}),
    "entity": frozenset({"label"}),
    "entity_label": frozenset(),
    "screening": frozenset({"min_score", "lists"}),
    "keywords": frozenset({"match"}),
    "query_string": frozenset(),
    "all": frozenset(),
    "any": frozenset(),
    "not": frozenset(),
}


def parse_condition(spec: object) -> Condition:
    """A condition from a rule's ``query``; a bare string is a query_string."""
    if isinstance(spec, str):
        return QueryStringCondition(spec, parse_query_string(spec))
    if not isinstance(spec, Mapping):
        raise ConfigError(f"query must be a mapping such as {{topic: sanctions}}, got {spec!r}")
    forms = [key for key in spec if key in _FORMS]
    if len(forms) != 1:
        found = ", ".join(map(str, forms)) or "none"
        raise ConfigError(
            f"query needs exactly one of {', '.join(_FORMS)} (found {found}); "
            "combine several with all: or any:"
        )
    form = forms[0]
    extra = set(map(str, spec)) - {form} - _FORMS[form]
    if extra:
        allowed = ", ".join(sorted(_FORMS[form])) or "nothing"
        raise ConfigError(
            f"query {form}: unknown option {', '.join(sorted(extra))} (allowed: {allowed})"
        )
    return _PARSERS[form](spec[form], spec)


def _parse_topic(value: object, spec: Mapping[str, Any]) -> Condition:
    return TopicCondition(_text(value, "topic"), _score(spec.get("min_score", 0.0)))


def _parse_category(value: object, spec: Mapping[str, Any]) -> Condition:
    return CategoryCondition(_text(value, "category"), _score(spec.get("min_score", 0.0)))


def _parse_entity(value: object, spec: Mapping[str, Any]) -> Condition:
    names = _texts(value, "entity")
    label = spec.get("label")
    return EntityCondition(names, None if label is None else _text(label, "label"))


def _parse_entity_label(value: object, spec: Mapping[str, Any]) -> Condition:
    return EntityLabelCondition(_text(value, "entity_label"))


def _parse_screening(value: object, spec: Mapping[str, Any]) -> Condition:
    if value is not True:
        raise ConfigError("query screening must be true (any sanctions-list hit)")
    lists = _texts(spec["lists"], "lists") if "lists" in spec else ()
    return ScreeningCondition(_score(spec.get("min_score", 0.0)), lists)


def _parse_keywords(value: object, spec: Mapping[str, Any]) -> Condition:
    terms = _texts(value, "keywords")
    for term in terms:
        if not standard_tokens(term):
            raise ConfigError(f"keyword {term!r} has no words to match")
    match = spec.get("match", "any")
    if match not in ("any", "all"):
        raise ConfigError(f"keywords match must be 'any' or 'all', got {match!r}")
    return KeywordsCondition(terms, match == "all")


def _parse_query_string(value: object, spec: Mapping[str, Any]) -> Condition:
    query = _text(value, "query_string")
    return QueryStringCondition(query, parse_query_string(query))


def _parse_all(value: object, spec: Mapping[str, Any]) -> Condition:
    return AllCondition(_children(value, "all"))


def _parse_any(value: object, spec: Mapping[str, Any]) -> Condition:
    return AnyCondition(_children(value, "any"))


def _parse_not(value: object, spec: Mapping[str, Any]) -> Condition:
    return NotCondition(parse_condition(value))


_PARSERS = {
    "topic": _parse_topic,
    "category": _parse_category,
    "entity": _parse_entity,
    "entity_label": _parse_entity_label,
    "screening": _parse_screening,
    "keywords": _parse_keywords,
    "query_string": _parse_query_string,
    "all": _parse_all,
    "any": _parse_any,
    "not": _parse_not,
}


def _children(value: object, form: str) -> tuple[Condition, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"query {form} needs a non-empty list of queries")
    return tuple(parse_condition(item) for item in value)


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def _texts(value: object, name: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"{name} needs at least one value")
    return tuple(_text(item, name) for item in items)


def _score(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"min_score must be a number from 0 to 1, got {value!r}")
    return float(value)


# --- evaluation -------------------------------------------------------------------------


def condition_fires(condition: Condition, context: ArticleContext) -> bool:
    """``evaluate_condition(condition, context).matched``, without writing the reasons.

    Most rules do not fire on most articles: ``RuleSet.match`` asks this first and writes
    the reasons only for the rules that fire (all/any/not stop at the first child that
    decides, as no reasons are listed here).
    """
    return _FIRES[type(condition)](condition, context)


def _topic_fires(condition: TopicCondition, context: ArticleContext) -> bool:
    wanted = condition.topic.casefold()
    return any(
        t.label.casefold() == wanted and t.score >= condition.min_score
        for t in context.article.topics
    )


def _category_fires(condition: CategoryCondition, context: ArticleContext) -> bool:
    wanted = condition.category.casefold()
    return any(
        c.label.casefold() == wanted and c.score >= condition.min_score
        for c in context.article.categories
    )


def _entity_fires(condition: EntityCondition, context: ArticleContext) -> bool:
    return bool(_entity_hits(condition, context))


def _entity_label_fires(condition: EntityLabelCondition, context: ArticleContext) -> bool:
    return condition.label.upper() in context.entity_labels


def _screening_fires(condition: ScreeningCondition, context: ArticleContext) -> bool:
    lists = {name.casefold() for name in condition.lists}
    return any(
        (not lists or hit.list.casefold() in lists) and hit.score >= condition.min_score
        for hit in context.article.screening
    )


def _keywords_fire(condition: KeywordsCondition, context: ArticleContext) -> bool:
    check = all if condition.match_all else any
    return check(_keyword_occurs(term, context) for term in condition.terms)


def _query_string_fires(condition: QueryStringCondition, context: ArticleContext) -> bool:
    return matches(condition.compiled, context.doc)


def _all_fire(condition: AllCondition, context: ArticleContext) -> bool:
    return all(condition_fires(child, context) for child in condition.conditions)


def _any_fires(condition: AnyCondition, context: ArticleContext) -> bool:
    return any(condition_fires(child, context) for child in condition.conditions)


def _not_fires(condition: NotCondition, context: ArticleContext) -> bool:
    return not condition_fires(condition.condition, context)


_FIRES: Mapping[type, Callable[[Any, ArticleContext], bool]] = {
    TopicCondition: _topic_fires,
    CategoryCondition: _category_fires,
    EntityCondition: _entity_fires,
    EntityLabelCondition: _entity_label_fires,
    ScreeningCondition: _screening_fires,
    KeywordsCondition: _keywords_fire,
    QueryStringCondition: _query_string_fires,
    AllCondition: _all_fire,
    AnyCondition: _any_fires,
    NotCondition: _not_fires,
}


def evaluate_condition(condition: Condition, context: ArticleContext) -> Outcome:
    """Whether the article satisfies ``condition``; the reasons say why or why not."""
    if isinstance(condition, TopicCondition):
        return _evaluate_topic(condition, context.article)
    if isinstance(condition, CategoryCondition):
        return _evaluate_category(condition, context.article)
    if isinstance(condition, EntityCondition):
        return _evaluate_entity(condition, context)
    if isinstance(condition, EntityLabelCondition):
        return _evaluate_entity_label(condition, context.article)
    if isinstance(condition, ScreeningCondition):
        return _evaluate_screening(condition, context.article)
    if isinstance(condition, KeywordsCondition):
        return _evaluate_keywords(condition, context)
    if isinstance(condition, QueryStringCondition):
        outcome = evaluate(condition.compiled, context.doc)
        if outcome.matched:
            return outcome
        return Outcome(False, tuple(f"query_string: {reason}" for reason in outcome.reasons))
    if isinstance(condition, NotCondition):
        inner = evaluate_condition(condition.condition, context)
        return Outcome(not inner.matched, tuple(f"not: {reason}" for reason in inner.reasons))
    outcomes = [evaluate_condition(child, context) for child in condition.conditions]
    matched = [outcome for outcome in outcomes if outcome.matched]
    if isinstance(condition, AllCondition):
        ok = len(matched) == len(outcomes)
        shown = outcomes if ok else [outcome for outcome in outcomes if not outcome.matched]
        return Outcome(ok, _flat(shown))
    return Outcome(bool(matched), _flat(matched or outcomes))


def _flat(outcomes: Sequence[Outcome]) -> tuple[str, ...]:
    return tuple(reason for outcome in outcomes for reason in outcome.reasons)


def _evaluate_topic(condition: TopicCondition, article: EnrichedArticle) -> Outcome:
    wanted = condition.topic.casefold()
    found = [topic for topic in article.topics if topic.label.casefold() == wanted]
    if not found:
        present = ", ".join(f"{t.label} {t.score:.2f}" for t in article.topics) or "none"
        return Outcome(False, (f"topic {condition.topic}: not found (topics: {present})",))
    best = max(found, key=lambda topic: topic.score)
    if best.score < condition.min_score:
        return Outcome(
            False,
            (f"topic {best.label}: score {best.score:.2f} below min_score {condition.min_score}",),
        )
    evidence = "; ".join(best.evidence[:3])
    detail = f": {evidence}" if evidence else ""
    return Outcome(True, (f"topic {best.label} (score {best.score:.2f}){detail}",))


def _evaluate_category(condition: CategoryCondition, article: EnrichedArticle) -> Outcome:
    wanted = condition.category.casefold()
    found = [c for c in article.categories if c.label.casefold() == wanted]
    if not found:
        present = ", ".join(f"{c.label} {c.score:.2f}" for c in article.categories) or "none"
        return Outcome(False, (f"category {condition.category}: not found ({present})",))
    best = max(found, key=lambda category: category.score)
    if best.score < condition.min_score:
        return Outcome(
            False,
            (
                f"category {best.label}: score {best.score:.2f} "
                f"below min_score {condition.min_score}",
            ),
        )
    # The words that led to the category travel with the alert, so a reader sees why.
    because = f": {', '.join(best.evidence[:5])}" if best.evidence else ""
    return Outcome(True, (f"category {best.label} (score {best.score:.2f}){because}",))


def _entity_key(name: str) -> str:
    return " ".join(name.casefold().split())


@lru_cache(maxsize=16_384)
def _entity_keys(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_entity_key(name) for name in names)


def _entity_hits(condition: EntityCondition, context: ArticleContext) -> list[Entity]:
    label = None if condition.label is None else condition.label.upper()
    entities, positions = context.article.entities, context.entity_positions
    # In article order, as a scan of article.entities would find them.
    found = sorted(p for key in _entity_keys(condition.names) for p in positions.get(key, ()))
    return [entities[p] for p in found if label is None or entities[p].label.upper() == label]


def _evaluate_entity(condition: EntityCondition, context: ArticleContext) -> Outcome:
    label = None if condition.label is None else condition.label.upper()
    hits = _entity_hits(condition, context)
    if hits:
        return Outcome(
            True,
            tuple(
                f'entity "{e.name}" ({e.label}, {e.count} mention{"s" if e.count != 1 else ""})'
                for e in hits
            ),
        )
    names = " or ".join(f'"{name}"' for name in condition.names)
    kind = f" as {label}" if label else ""
    return Outcome(False, (f"entity {names}: not mentioned{kind}",))


def _evaluate_entity_label(condition: EntityLabelCondition, article: EnrichedArticle) -> Outcome:
    label = condition.label.upper()
    names = [entity.name for entity in article.entities if entity.label.upper() == label]
    if names:
        return Outcome(True, (f"{label} entities: {', '.join(names[:10])}",))
    return Outcome(False, (f"entity_label {label}: no such entity",))


def _evaluate_screening(condition: ScreeningCondition, article: EnrichedArticle) -> Outcome:
    lists = {name.casefold() for name in condition.lists}
    candidates = [hit for hit in article.screening if not lists or hit.list.casefold() in lists]
    hits = [hit for hit in candidates if hit.score >= condition.min_score]
    if hits:
        return Outcome(
            True,
            tuple(
                f'screening: "{hit.entity}" matches {hit.list} entry "{hit.entry_name}" '
                f"({hit.entry_id}; {', '.join(hit.programs) or 'no programs'}) "
                f"score {hit.score:.2f}"
                for hit in hits
            ),
        )
    if candidates:
        best = max(hit.score for hit in candidates)
        return Outcome(
            False, (f"screening: best hit {best:.2f} below min_score {condition.min_score}",)
        )
    scope = f" on {', '.join(condition.lists)}" if condition.lists else ""
    return Outcome(False, (f"screening: no sanctions-list hits{scope}",))


def _evaluate_keywords(condition: KeywordsCondition, context: ArticleContext) -> Outcome:
    found: list[str] = []
    missing: list[str] = []
    for term in condition.terms:
        hits = _find_keyword(term, context)
        if hits:
            found.append(f'keyword "{term}": ' + ", ".join(hits))
        else:
            missing.append(f'"{term}"')
    matched = not missing if condition.match_all else bool(found)
    if matched:
        return Outcome(True, tuple(found))
    if condition.match_all:
        return Outcome(False, (f"keywords: missing {', '.join(missing)} in title/body",))
    return Outcome(False, (f"keywords: none of {', '.join(missing)} in title/body",))


_SURFACES_SHOWN = 3  # distinct spellings of a keyword quoted per field


def _find_keyword(term: str, context: ArticleContext) -> list[str]:
    """Where ``term``'s stems occur in a row: ``"sanctions" in title`` and so on."""
    places: list[str] = []
    for field in context.stems:
        surfaces: dict[str, None] = {}
        for window in _keyword_windows(term, field, context):
            surfaces[" ".join(token for _, token in window)] = None
            if len(surfaces) == _SURFACES_SHOWN:
                break  # later ones are not shown
        places.extend(f'"{surface}" in {field}' for surface in surfaces)
    return places


def _keyword_occurs(term: str, context: ArticleContext) -> bool:
    """Whether ``_keyword_windows`` finds any run, in either field (no generator: hot)."""
    wanted = _term_stems(term, context.algorithm)
    size = len(wanted)
    for field, pairs in context.stems.items():
        for start in context.stem_starts[field].get(wanted[0], ()):
            if size == 1 or tuple(stemmed for stemmed, _ in pairs[start : start + size]) == wanted:
                return True
    return False


def _keyword_windows(
    term: str, field: str, context: ArticleContext
) -> Iterator[list[tuple[str, str]]]:
    """The (stem, token) runs of ``field`` whose stems are ``term``'s, in text order."""
    wanted = _term_stems(term, context.algorithm)
    size, pairs = len(wanted), context.stems[field]
    for start in context.stem_starts[field].get(wanted[0], ()):
        window = pairs[start : start + size]
        if tuple(stemmed for stemmed, _ in window) == wanted:
            yield window


@lru_cache(maxsize=16_384)
def _term_stems(term: str, algorithm: str) -> tuple[str, ...]:
    """A keyword's stems, computed once per rule term rather than once per article."""
    return tuple(stem(token, algorithm) for token in standard_tokens(term))
