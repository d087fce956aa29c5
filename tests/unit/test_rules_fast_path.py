"""``RuleSet.match`` asks the cheap ``condition_fires`` first: it must agree with the full
evaluation (``explain``) on every form, and the evidence must be the full evaluation's."""

from __future__ import annotations

import pytest

from streams.alerts import ArticleContext, parse_rules
from streams.alerts.matching import condition_fires, evaluate_condition, parse_condition
from streams.alerts.query import DocView, evaluate, matches, parse_query_string
from streams.messages import Entity, ScoredLabel, ScreeningHit, TopicMatch
from tests.unit.test_alert_query import CORPUS, QUERIES, document

from .messages_examples import an_article as article

ARTICLES = [
    article(
        "EU sanctions Russian defence firms",
        "Brussels sanctioned 12 companies. Sanctions, sanctioning and SANCTION: Sergei "
        "Shoigu was named. Export controls cover dual-use chips. Export   controls again.",
        topics=[TopicMatch("sanctions", 0.82, ["Brussels sanctioned"]), TopicMatch("trade", 0.4)],
        categories=[ScoredLabel("politics", 0.6), ScoredLabel("politics", 0.2)],
        entities=[
            Entity("Brussels", "GPE", [(0, 8)], 1),
            Entity("Sergei  Shoigu", "PERSON", [(52, 65)], 1),
            Entity("sergei shoigu", "ORG", [(70, 83)], 2),
        ],
        countries=["RU", "BE"],
        screening=[ScreeningHit("Sergei Shoigu", "EU", "EU.27.1", "SHOYGU", ["UKR"], 0.93)],
    ),
    article("Tariffs on steel", "The tariff took effect. Critics want tariffless trade."),
    article("", ""),
]

SPECS: list[object] = [
    {"topic": "sanctions"},
    {"topic": "SANCTIONS", "min_score": 0.9},
    {"topic": "trade", "min_score": 0.4},
    {"category": "politics", "min_score": 0.5},
    {"category": "sport"},
    {"entity": "Sergei Shoigu"},
    {"entity": ["sergei shoigu", "Brussels"], "label": "person"},
    {"entity": "Nobody"},
    {"entity_label": "GPE"},
    {"entity_label": "NORP"},
    {"screening": True},
    {"screening": True, "min_score": 0.95},
    {"screening": True, "lists": ["eu"]},
    {"screening": True, "lists": ["UN"]},
    {"keywords": ["sanction"]},
    {"keywords": ["export control", "tariff"]},
    {"keywords": ["export control", "tariff"], "match": "all"},
    {"keywords": ["dual-use chips", "missing word"]},
    {"keywords": ["tariffless"]},
    "topics.label:sanctions AND countries:RU",
    "tariff* AND NOT steel",
    {"all": [{"topic": "sanctions"}, {"not": {"keywords": ["tariff"]}}]},
    {"any": [{"entity": "Nobody"}, {"entity_label": "PERSON"}, {"keywords": ["export"]}]},
    {"not": {"any": [{"topic": "trade"}, {"category": "politics"}]}},
]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_fires_exactly_when_the_full_evaluation_matches(spec: object) -> None:
    condition = parse_condition(spec)
    for item in ARTICLES:
        context = ArticleContext(item)
        assert condition_fires(condition, context) == evaluate_condition(condition, context).matched


def test_matches_carry_the_full_evaluations_evidence() -> None:
    lines = ["version: 1", "rules:"]
    for n, spec in enumerate(SPECS):
        lines += [f"  - id: r{n}", f"    name: R{n}", f"    query: {spec!r}"]
    rules = parse_rules(
        "\n".join(lines), source="<test>", environ={}, default_webhook_url="http://x"
    )
    for item in ARTICLES:
        matched = [(m.rule.id, m.evidence) for m in rules.match(item)]
        explained = [(e.rule_id, e.reasons) for e in rules.explain(item) if e.fired]
        assert matched == explained
    assert any(matched for matched in (rules.match(item) for item in ARTICLES))


def test_a_keyword_quotes_its_first_three_spellings_per_field() -> None:
    outcome = evaluate_condition(
        parse_condition({"keywords": ["sanction"]}), ArticleContext(ARTICLES[0])
    )
    assert outcome.reasons == (
        'keyword "sanction": "sanctions" in title, "sanctioned" in body, "sanctions" in body, '
        '"sanctioning" in body',
    )


def test_query_strings_match_exactly_when_the_full_evaluation_does() -> None:
    for query, _ in QUERIES:
        compiled = parse_query_string(query)
        for item in CORPUS:
            doc = DocView(document(item))
            assert matches(compiled, doc) == evaluate(compiled, doc).matched, (query, item.id)
