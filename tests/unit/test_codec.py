from __future__ import annotations

import pytest

from streams.errors import InvalidArticle
from streams.messages.codec import (
    article_id,
    canonical_url,
    dumps,
    enriched_from_json,
    parse_raw_article,
)
from streams.messages.models import EnrichedArticle, Entity, ScoredLabel, TopicMatch


def test_canonical_url_drops_tracking_fragment_and_case() -> None:
    assert (
        canonical_url("HTTP://WWW.Example.com/News/Story/?utm_source=x&b=2&a=1#top")
        == "https://example.com/News/Story?a=1&b=2"
    )


def test_same_article_by_different_urls_gets_one_id() -> None:
    a = article_id(url="https://example.com/a?utm_medium=rss", title="x", text="y", html=None)
    b = article_id(url="http://www.example.com/a/", title="other", text="z", html=None)
    assert a == b


def test_id_without_url_ignores_whitespace_and_case() -> None:
    a = article_id(url=None, title="Tariffs  Rise", text="Steel duties\nup.", html=None)
    b = article_id(url=None, title="tariffs rise", text="Steel  duties up.", html=None)
    c = article_id(url=None, title="tariffs rise", text="Steel duties down.", html=None)
    assert a == b != c


def test_parse_assigns_the_stable_id() -> None:
    raw = parse_raw_article(b'{"url": "https://example.com/a", "title": "T", "text": "body"}')
    assert raw.id == article_id(url="https://example.com/a", title="T", text="body", html=None)


def test_parse_keeps_a_given_id() -> None:
    assert parse_raw_article(b'{"id": "abc", "title": "T", "text": "b"}').id == "abc"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"title": "x", "text": "unterminated', "not valid JSON"),
        (b'["a", "b"]', "expected a JSON object"),
        (b'{"title": "only a title"}', "neither 'text' nor 'html'"),
        (b'{"text": "body only"}', "neither 'title' nor 'url'"),
        (b'{"title": "x", "text": 42}', "'text' must be a string"),
        (b'{"id": "", "title": "x", "text": "y"}', "'id'"),
    ],
)
def test_invalid_records_say_what_is_wrong(line: bytes, reason: str) -> None:
    with pytest.raises(InvalidArticle, match=reason):
        parse_raw_article(line)


def test_enriched_article_round_trips_through_json() -> None:
    article = EnrichedArticle(
        id="1",
        url=None,
        title="t",
        body="Xi met Putin",
        language="en",
        source=None,
        published_at=None,
        ingested_at="2026-01-01T00:00:00Z",
        entities=[Entity("Xi Jinping", "PERSON", [(0, 2)], 1)],
        categories=[ScoredLabel("politics", 0.9)],
        topics=[TopicMatch("diplomacy", 0.5, ["met"])],
        keywords=["putin"],
        countries=["CN"],
    )
    assert enriched_from_json(dumps(article)) == article


def test_enriched_record_missing_fields_is_invalid() -> None:
    with pytest.raises(InvalidArticle, match="schema"):
        enriched_from_json(b'{"id": "1"}')
