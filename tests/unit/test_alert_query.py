"""The in-process query_string matcher selects what Elasticsearch's query_string selects.

Every expected set in QUERIES was checked against Elasticsearch 9.2.4 with the
news-articles index template (schemas/elasticsearch/), indexing CORPUS and running
``elasticsearch_query(q)``. The integration suite repeats the comparison live.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.alerts import FIELDS, elasticsearch_query, matches_query_string
from streams.alerts.query import _ES_TYPES, explain_query_string, parse_query_string
from streams.errors import ConfigError
from streams.messages import EnrichedArticle, Entity, ScoredLabel, ScreeningHit, TopicMatch

ROOT = Path(__file__).resolve().parents[2]


def article(
    id: str, title: str, body: str, *, topics: dict[str, float] | None = None, **extra: Any
) -> EnrichedArticle:
    values: dict[str, Any] = {
        "url": f"https://news.example.com/{id}",
        "language": "en",
        "source": "reuters",
        "published_at": None,
        "ingested_at": "2024-03-05T12:00:00.123456+00:00",
        "entities": [],
        "categories": [],
        "keywords": [],
        **extra,
    }
    return EnrichedArticle(
        id=id,
        title=title,
        body=body,
        topics=[TopicMatch(label, score, []) for label, score in (topics or {}).items()],
        **values,
    )


CORPUS = [
    article(
        "a1",
        "US sanctions Chinese chip makers",
        "Washington sanctioned three firms over export controls. Russia's reaction was muted.",
        topics={"sanctions": 0.82, "export-controls": 0.6},
        countries=["CN", "US"],
        entities=[Entity("Huawei", "ORG", [(0, 6)], 2)],
        categories=[ScoredLabel("economy, business and finance", 0.7)],
        published_at="2024-03-05T10:20:30Z",
    ),
    article(
        "a2",
        "Tariffs on steel rise",
        "The tariff war between the U.S. and China escalated; e-mail leaks showed "
        "tariffless trade talks.",
        topics={"trade": 0.7},
        countries=["CN"],
        published_at="2024-03-04T23:59:59.999Z",
    ),
    article(
        "a3",
        "Shoigu visits Beijing",
        "Sergei Shoigu met officials. Trade war fears grew.",
        topics={"sanctions": 0.4},
        countries=["RU", "CN"],
        entities=[Entity("Sergei Shoigu", "PERSON", [(0, 13)], 1)],
        published_at="2024-03-06T00:00:00+01:00",
        screening=[ScreeningHit("Sergei Shoigu", "EU", "EU.1", "SHOYGU, Sergey", ["UKR"], 0.95)],
    ),
    article(
        "a4",
        "Weather report",
        "Sunny skies.",
        url=None,
        source=None,
        author="Jane Doe",
    ),
    article(
        "a5",
        "Sanktionen gegen Russland",
        "Die EU verhängt neue Sanktionen.",
        topics={"Sanctions": 0.9},
        language="de",
        countries=["RU"],
        published_at="2023-12-31T23:00:00-02:00",
    ),
]

QUERIES: list[tuple[str, set[str]]] = [
    # bare terms search title and body, analysed like the standard analyzer
    ("sanctions", {"a1"}),
    ("SANCTIONED", {"a1"}),
    ("tariff", {"a2"}),
    ("tariff*", {"a2"}),
    ("Tar?ff", {"a2"}),
    ("russia", set()),
    ("russia's", {"a1"}),
    ("u.s", {"a2"}),
    ("e-mail", {"a2"}),
    ('"e-mail"', {"a2"}),
    ('"trade war"', {"a3"}),
    ('"war trade"~2', {"a3"}),
    ('"tariff trade"~1', set()),
    ("Sergei Shoigu", {"a3"}),
    # keyword fields are exact and case-sensitive; arrays match any value
    ("topics.label:sanctions", {"a1", "a3"}),
    ("topics.label:Sanctions", {"a5"}),
    ("countries:CN", {"a1", "a2", "a3"}),
    ("countries:cn", set()),
    ("countries:(CN RU)", set()),
    ("countries:(CN OR RU)", {"a1", "a2", "a3", "a5"}),
    ('entities.name:"Sergei Shoigu"', {"a3"}),
    ("entities.name:(Sergei Shoigu)", {"a3"}),
    ("entities.name:Sergei", set()),
    ("entities.name:Sergei*", {"a3"}),
    ("title.raw:Shoigu*", {"a3"}),
    ("screening.list:EU", {"a3"}),
    # Lucene's operators: AND/OR/NOT modify neighbouring clauses
    ("topics.label:sanctions AND countries:CN", {"a1", "a3"}),
    ("topics.label:sanctions AND countries:CN OR tariff", {"a1", "a3"}),
    ("tariff OR topics.label:sanctions AND countries:CN", {"a1", "a3"}),
    ("(topics.label:sanctions AND countries:US) OR tariff", {"a1", "a2"}),
    ("sanctions OR NOT weather", {"a1"}),
    ("NOT countries:CN", {"a4", "a5"}),
    ("-countries:* -source:reuters", {"a4"}),
    ("countries:CN AND (NOT trade)", {"a1"}),
    ("+countries:CN -topics.label:trade war", {"a1", "a3"}),
    ("title:(sanctions OR tariffs) AND body:china", {"a2"}),
    # numbers are 32-bit floats, dates cover what they name
    ("topics.score:>=0.6", {"a1", "a2", "a5"}),
    ("topics.score:{0.4 TO 0.7]", {"a1", "a2"}),
    ("topics.label:sanctions AND topics.score:>0.8", {"a1"}),
    ("entities.count:>1", {"a1"}),
    ("published_at:2024-03-05", {"a1", "a3"}),
    ("published_at:[* TO 2024-03-04]", {"a2", "a5"}),
    ("published_at:>2024-03-04", {"a1", "a3"}),
    ("published_at:{2024-01-01 TO 2024-03-05T10:20:30}", {"a2"}),
    ('published_at:["2024-03-05T23:00:00Z" TO *]', {"a3"}),
    ("_exists_:published_at", {"a1", "a2", "a3", "a5"}),
    ("url:*", {"a1", "a2", "a3", "a5"}),
    ("language:de OR source:reuters^2", {"a1", "a2", "a3", "a5"}),
]


def document(item: EnrichedArticle) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(item))
    return loaded


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_selects_what_elasticsearch_selects(query: str, expected: set[str]) -> None:
    selected = {item.id for item in CORPUS if matches_query_string(query, document(item))}
    assert selected == expected


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("foo~", "fuzzy"),
        ("/tar.*/", "regular expression"),
        ("tariff && trade", "write AND instead of &&"),
        ("!trade", "write NOT instead of !"),
        ("url:https://x.com", "more than one ':'"),
        ("published_at:2024-03-05T10:00:00Z", "contains ':'"),
        ("published_at:[now-1d TO now]", "no date math"),
        ("published_at:2024", "not a supported date"),
        ("topics.score:high", "not a number"),
        ("entities.count:1.5", "whole number"),
        ("topics.*:sanctions", "unknown field 'topics.*'"),
        ("headline:sanctions", "unknown field 'headline'"),
        ("title:[a TO c]", "needs a keyword, number or date field"),
        ("published_at:2024*", "wildcards work on text and keyword fields only"),
        ("tariffs AND NOT NOT trade", "stacks operators"),
        ('"war war"~2', "repeats a word"),
        ("topics.score:(0.5 0.7)", "write topics.score:(a OR b)"),
        ("(tariff", "syntax error"),
        ("&", "matches nothing"),
        ("", "empty"),
    ],
)
def test_unsupported_syntax_is_rejected_with_the_reason(query: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_query_string(query)
    assert problem in str(caught.value)


def test_explanation_names_the_matched_and_the_missing_clauses() -> None:
    doc = document(CORPUS[0])
    fired = explain_query_string("topics.label:sanctions AND (tariff* OR chip*)", doc)
    assert fired.matched
    assert fired.reasons == ("topics.label:sanctions", 'chip*: "chip" in title')
    missed = explain_query_string("topics.label:sanctions AND countries:RU", doc)
    assert not missed.matched
    assert missed.reasons == ("countries:RU: countries is [CN, US]",)


def test_elasticsearch_query_is_the_documented_query_string_search() -> None:
    assert elasticsearch_query("countries:CN") == {
        "query_string": {
            "query": "countries:CN",
            "fields": ["title", "body"],
            "default_operator": "OR",
        }
    }


def _mapped_fields(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    fields: dict[str, dict[str, Any]] = {}
    for name, spec in properties.items():
        if "properties" in spec:
            fields.update(_mapped_fields(spec["properties"], f"{prefix}{name}."))
            continue
        fields[prefix + name] = spec
        for sub, sub_spec in spec.get("fields", {}).items():
            fields[f"{prefix}{name}.{sub}"] = sub_spec
    return fields


def test_fields_follow_the_index_template() -> None:
    template = json.loads(
        (ROOT / "schemas/elasticsearch/news-articles.template.json").read_text(encoding="utf-8")
    )
    mapped = {
        name: spec
        for name, spec in _mapped_fields(template["template"]["mappings"]["properties"]).items()
        # Types the matcher does not evaluate (boolean, ...) are left out on purpose.
        if spec.get("index", True) and spec["type"] in _ES_TYPES
    }
    assert set(FIELDS) == set(mapped)
    for name, spec in FIELDS.items():
        assert spec.type == mapped[name]["type"], name
        assert spec.ignore_above == mapped[name].get("ignore_above", 0), name
