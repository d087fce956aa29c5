"""Each query form fires on the articles it should, with evidence an analyst can check."""

from __future__ import annotations

import pytest

from streams.alerts import ArticleContext, RuleSet, parse_rules
from streams.alerts.matching import evaluate_condition, parse_condition
from streams.alerts.rules import format_explanations
from streams.messages import EnrichedArticle, Entity, ScoredLabel, ScreeningHit, TopicMatch

from .messages_examples import an_article as article

SANCTIONS_STORY = article(
    "EU sanctions Russian defence firms",
    "Brussels sanctioned 12 companies on Monday. Sergei Shoigu, the former defence minister, "
    "was named. New export controls cover dual-use chips. Beijing threatened retaliation.",
    topics=[TopicMatch("sanctions", 0.82, ["Brussels sanctioned 12 companies"])],
    categories=[ScoredLabel("politics", 0.6), ScoredLabel("economy, business and finance", 0.3)],
    entities=[
        Entity("Sergei Shoigu", "PERSON", [(52, 65)], 1),
        Entity("Brussels", "GPE", [(0, 8)], 1),
    ],
    countries=["RU", "BE"],
    screening=[ScreeningHit("Sergei Shoigu", "EU", "EU.27.1", "SHOYGU, Sergey", ["UKR"], 0.93)],
)
TARIFF_STORY = article(
    "Tariffs on steel rise again",
    "The tariff took effect at midnight. Critics want tariffless trade.",
    topics=[TopicMatch("trade", 0.55, ["tariff took effect"])],
    countries=["US", "CN"],
)
TARIFFLESS_STORY = article("A tariffless future", "Free traders dream of tariffless borders.")


def fires(spec: object, item: EnrichedArticle) -> tuple[bool, tuple[str, ...]]:
    outcome = evaluate_condition(parse_condition(spec), ArticleContext(item))
    return outcome.matched, outcome.reasons


def test_topic_fires_at_or_above_its_minimum_score() -> None:
    assert fires({"topic": "sanctions", "min_score": 0.8}, SANCTIONS_STORY) == (
        True,
        ("topic sanctions (score 0.82): Brussels sanctioned 12 companies",),
    )
    assert fires({"topic": "Sanctions", "min_score": 0.9}, SANCTIONS_STORY) == (
        False,
        ("topic sanctions: score 0.82 below min_score 0.9",),
    )
    assert fires({"topic": "sanctions"}, TARIFF_STORY) == (
        False,
        ("topic sanctions: not found (topics: trade 0.55)",),
    )


def test_category_fires_with_its_score() -> None:
    assert fires({"category": "politics"}, SANCTIONS_STORY) == (
        True,
        ("category politics (score 0.60)",),
    )
    matched, _ = fires(
        {"category": "economy, business and finance", "min_score": 0.5}, SANCTIONS_STORY
    )
    assert not matched


def test_a_category_alert_says_which_words_led_to_the_category() -> None:
    story = article(
        "Striker scores twice",
        "The striker scored twice as Chelsea beat Arsenal in the Premier League.",
        categories=[ScoredLabel("sport", 0.9, ("striker", "premier league", "chelsea"))],
    )
    assert fires({"category": "sport"}, story) == (
        True,
        ("category sport (score 0.90): striker, premier league, chelsea",),
    )


def test_entity_matches_names_in_any_case_and_spacing() -> None:
    assert fires({"entity": "sergei  SHOIGU"}, SANCTIONS_STORY) == (
        True,
        ('entity "Sergei Shoigu" (PERSON, 1 mention)',),
    )
    assert fires(
        {"entity": ["Valery Gerasimov", "Sergei Shoigu"], "label": "person"}, SANCTIONS_STORY
    )[0]
    assert fires({"entity": "Sergei Shoigu", "label": "ORG"}, SANCTIONS_STORY) == (
        False,
        ('entity "Sergei Shoigu": not mentioned as ORG',),
    )


def test_entity_label_lists_the_entities_of_that_label() -> None:
    assert fires({"entity_label": "GPE"}, SANCTIONS_STORY) == (True, ("GPE entities: Brussels",))
    assert not fires({"entity_label": "ORG"}, SANCTIONS_STORY)[0]


def test_screening_fires_on_a_hit_above_the_minimum_score() -> None:
    matched, evidence = fires({"screening": True}, SANCTIONS_STORY)
    assert matched
    assert evidence == (
        'screening: "Sergei Shoigu" matches EU entry "SHOYGU, Sergey" (EU.27.1; UKR) score 0.93',
    )
    assert fires({"screening": True, "min_score": 0.95}, SANCTIONS_STORY) == (
        False,
        ("screening: best hit 0.93 below min_score 0.95",),
    )
    assert not fires({"screening": True, "lists": ["OFAC-SDN"]}, SANCTIONS_STORY)[0]
    assert fires({"screening": True}, TARIFF_STORY) == (
        False,
        ("screening: no sanctions-list hits",),
    )


def test_a_keyword_matches_its_inflections_on_word_boundaries() -> None:
    assert fires({"keywords": ["sanction"]}, SANCTIONS_STORY) == (
        True,
        ('keyword "sanction": "sanctions" in title, "sanctioned" in body',),
    )
    assert fires({"keywords": ["tariff"]}, TARIFF_STORY) == (
        True,
        ('keyword "tariff": "tariffs" in title, "tariff" in body',),
    )
    assert fires({"keywords": ["tariff"]}, TARIFFLESS_STORY) == (
        False,
        ('keywords: none of "tariff" in title/body',),
    )


def test_keyword_phrases_match_consecutive_words() -> None:
    assert fires({"keywords": ["export control"]}, SANCTIONS_STORY) == (
        True,
        ('keyword "export control": "export controls" in body',),
    )
    assert fires({"keywords": ["dual-use"]}, SANCTIONS_STORY)[0]
    assert not fires({"keywords": ["controls export"]}, SANCTIONS_STORY)[0]


def test_keywords_match_all_needs_every_term() -> None:
    spec = {"keywords": ["sanction", "tariff"], "match": "all"}
    assert fires(spec, SANCTIONS_STORY) == (
        False,
        ('keywords: missing "tariff" in title/body',),
    )
    assert fires({"keywords": ["sanction", "retaliate"], "match": "all"}, SANCTIONS_STORY)[0]


def test_a_query_string_rule_reports_the_clauses() -> None:
    assert fires({"query_string": "topics.label:sanctions AND countries:RU"}, SANCTIONS_STORY) == (
        True,
        ("topics.label:sanctions", "countries:RU"),
    )
    assert fires("countries:CN AND tariff*", TARIFF_STORY) == (
        True,
        ("countries:CN", 'tariff*: "tariffs" in title'),
    )
    assert fires("countries:CN", SANCTIONS_STORY) == (
        False,
        ("query_string: countries:CN: countries is [RU, BE]",),
    )


def test_all_any_and_not_combine_forms() -> None:
    both = {"all": [{"topic": "trade"}, {"keywords": ["tariff"]}]}
    assert fires(both, TARIFF_STORY) == (
        True,
        (
            "topic trade (score 0.55): tariff took effect",
            'keyword "tariff": "tariffs" in title, "tariff" in body',
        ),
    )
    assert fires(both, SANCTIONS_STORY) == (
        False,
        (
            "topic trade: not found (topics: sanctions 0.82)",
            'keywords: none of "tariff" in title/body',
        ),
    )
    either = {"any": [{"topic": "trade"}, {"screening": True}]}
    assert fires(either, SANCTIONS_STORY)[0] and fires(either, TARIFF_STORY)[0]
    assert not fires(either, TARIFFLESS_STORY)[0]
    assert fires({"not": {"keywords": ["tariff"]}}, TARIFFLESS_STORY) == (
        True,
        ('not: keywords: none of "tariff" in title/body',),
    )


RULES = """
rules:
  - {id: sanctions-watch, name: Sanctions news, query: {topic: sanctions, min_score: 0.5}}
  - {id: tariffs, name: Tariff news, query: {keywords: [tariff]}}
  - {id: shoigu, name: Shoigu, query: {entity: Sergei Shoigu}, enabled: false}
"""


@pytest.fixture
def ruleset() -> RuleSet:
    return parse_rules(RULES, source="test", environ={}, default_webhook_url="http://hook")


def test_ruleset_match_returns_the_fired_rules_with_evidence(ruleset: RuleSet) -> None:
    matches = ruleset.match(SANCTIONS_STORY)
    assert [(m.rule.id, m.evidence) for m in matches] == [
        ("sanctions-watch", ("topic sanctions (score 0.82): Brussels sanctioned 12 companies",))
    ]
    assert [m.rule.id for m in ruleset.match(TARIFF_STORY)] == ["tariffs"]
    assert ruleset.match(TARIFFLESS_STORY) == []


def test_explain_covers_every_rule_and_formats_for_a_terminal(ruleset: RuleSet) -> None:
    explanations = ruleset.explain(SANCTIONS_STORY)
    assert [(e.rule_id, e.fired) for e in explanations] == [
        ("sanctions-watch", True),
        ("tariffs", False),
        ("shoigu", False),
    ]
    assert explanations[2].reasons[0] == "rule is disabled"
    text = format_explanations(explanations)
    assert "FIRES  sanctions-watch  (Sanctions news)" in text
    assert '- keywords: none of "tariff" in title/body' in text
    assert text.endswith("1 of 3 rules fire")
