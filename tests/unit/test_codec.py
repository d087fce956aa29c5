from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from streams.errors import InvalidArticle, InvalidRecord
from streams.messages import (
    EnrichedArticle,
    Entity,
    ScoredLabel,
    TopicMatch,
    alert_from_json,
    dead_letter_from_json,
    dumps,
    enriched_from_json,
    loads,
    parse_raw_article,
)
from streams.messages.codec import article_id, canonical_url

from .messages_examples import a_dead_letter, an_alert, an_enriched_article


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


@pytest.mark.parametrize(
    "given",
    [
        "a" * 201,  # Elasticsearch takes 512 bytes; 200 characters of the safe set stay under
        "with space",
        "slash/in/it",
        "-leading-dash",
        "ünïcode",
        "line\nbreak",
        "trailing\n",
        "",
        "   ",
        7,
    ],
)
def test_an_unusable_given_id_is_refused_saying_what_an_id_may_be(given: object) -> None:
    record = orjson.dumps({"id": given, "title": "T", "text": "b"})
    with pytest.raises(InvalidArticle) as caught:
        parse_raw_article(record)
    reason = str(caught.value)
    assert reason.startswith("field 'id', when given, must be 1 to 200 characters of A-Z")
    assert "Leave it out and one is derived from the url" in reason
    assert len(reason) < 400  # a huge id is shown cut


@pytest.mark.parametrize("given", ["a", "A" * 200, "urn:news:2026-12-06.42_b", "0"])
def test_a_safe_given_id_is_kept(given: str) -> None:
    assert parse_raw_article({"id": given, "title": "T", "text": "b"}).id == given


def test_an_article_over_the_size_limit_is_refused_before_it_is_parsed() -> None:
    line = orjson.dumps({"title": "T", "text": "x" * 1_000})
    assert parse_raw_article(line, max_bytes=len(line)).title == "T"
    for data in (line, line.decode()):
        with pytest.raises(InvalidArticle, match=f"article is {len(line):,} bytes; at most 100 "):
            parse_raw_article(data, max_bytes=100)
    with pytest.raises(InvalidArticle, match="NEWSSTREAM_MAX_ARTICLE_BYTES"):
        parse_raw_article(b"not even json" * 100, max_bytes=100)  # size first: no parse


def test_a_record_given_as_a_dict_is_measured_as_it_will_be_published() -> None:
    record = {"title": "T", "text": "x" * 1_000, "ignored": "y" * 10_000}
    article = parse_raw_article(record, max_bytes=2_000)  # unknown fields are dropped
    with pytest.raises(InvalidArticle, match="NEWSSTREAM_MAX_ARTICLE_BYTES"):
        parse_raw_article(record, max_bytes=len(dumps(article)) - 1)


def test_the_default_limit_is_2_mib() -> None:
    text = "x" * (2 * 1024 * 1024 - 100)
    assert parse_raw_article(orjson.dumps({"title": "T", "text": text})).text == text
    with pytest.raises(InvalidArticle, match="at most 2,097,152 are accepted"):
        parse_raw_article(orjson.dumps({"title": "T", "text": text + "x" * 100}))


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


def test_every_message_round_trips_through_json_bytes_and_dicts() -> None:
    for message, decode in (
        (an_enriched_article(), enriched_from_json),
        (an_alert(), alert_from_json),
        (a_dead_letter(), dead_letter_from_json),
    ):
        assert decode(dumps(message)) == message
        assert decode(orjson.loads(dumps(message))) == message


Decoder = Callable[[Any], Any]
DECODERS: list[Decoder] = [
    parse_raw_article,
    enriched_from_json,
    alert_from_json,
    dead_letter_from_json,
]


@pytest.mark.parametrize("decode", DECODERS)
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"garbage", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b'{"title": "\xe9t\xe9"}', "not valid JSON"),  # Latin-1, not UTF-8
        (b"[1, 2]", "expected a JSON object, got array"),
        (b"null", "expected a JSON object, got null"),
        (b'"text"', "expected a JSON object, got string"),
        (b"3.5", "expected a JSON object, got number"),
        (b"{}", None),
        (b'{"id": {}, "title": [], "text": 1, "alert_id": 2, "reason": 3}', None),
        (None, "not valid JSON"),
    ],
)
def test_bad_input_is_always_an_invalid_record(
    decode: Decoder, data: Any, reason: str | None
) -> None:
    with pytest.raises(InvalidRecord, match=reason):
        decode(data)


def test_articles_are_invalid_articles_and_other_records_invalid_records() -> None:
    with pytest.raises(InvalidArticle):
        enriched_from_json(b"{}")
    for decode in (alert_from_json, dead_letter_from_json):
        with pytest.raises(InvalidRecord) as caught:
            decode(b"{}")
        assert not isinstance(caught.value, InvalidArticle)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"topics": [{"label": "x", "score": "high"}]},
         "field 'topics[0].score' must be a number, got string"),
        ({"entities": [{"name": "n", "label": "L", "count": 1}]},
         "missing required field 'entities[0].spans'"),
        ({"entities": [{"name": "n", "label": "L", "spans": [[0, 1, 2]], "count": 1}]},
         "field 'entities[0].spans[0]' must be an array of length 2, got 3"),
        ({"entities": [{"name": "n", "label": "L", "spans": [[0, 1]], "count": 0}]},
         "field 'entities[0].count' must be an integer >= 1"),
        ({"countries": ["cn"]}, "field 'countries[0]' must be a string matching"),
        ({"url": 5}, "field 'url' must be a string or null, got integer"),
        ({"keywords": "putin"}, "field 'keywords' must be an array, got string"),
        ({"screening": [{"entity": "x"}]}, "missing required field 'screening[0].list'"),
    ],
)  # fmt: skip
def test_an_enriched_record_error_names_the_field_and_what_was_expected(
    change: dict[str, Any], reason: str
) -> None:
    record = {**orjson.loads(dumps(an_enriched_article())), **change}
    with pytest.raises(InvalidArticle, match=re.escape(f"does not match the schema: {reason}")):
        enriched_from_json(record)


def test_alert_and_dead_letter_errors_name_the_field() -> None:
    with pytest.raises(InvalidRecord, match="missing required field 'targets'"):
        alert_from_json(
            {k: v for k, v in orjson.loads(dumps(an_alert())).items() if k != "targets"}
        )
    with pytest.raises(InvalidRecord, match="'source_offset' must be an integer, got string"):
        dead_letter_from_json({**orjson.loads(dumps(a_dead_letter())), "source_offset": "2"})
    with pytest.raises(InvalidRecord, match="'original_truncated' must be a boolean, got integer"):
        dead_letter_from_json({**orjson.loads(dumps(a_dead_letter())), "original_truncated": 1})


def test_raw_article_ignores_unknown_fields_and_strips_the_title() -> None:
    raw = parse_raw_article({"title": "  T  ", "text": "b", "tags": ["x"], "id": "i"})
    assert (raw.id, raw.title, raw.text) == ("i", "T", "b")


def test_raw_article_title_may_be_null_or_missing_when_a_url_is_given() -> None:
    for title in ({"title": None}, {}):
        raw = parse_raw_article({**title, "url": "https://example.com/a", "html": "<p>x</p>"})
        assert raw.title == ""
        assert raw.id == article_id(url="https://example.com/a", title="", text=None, html="x")


@pytest.mark.parametrize("title", [0, False, [], {}])
def test_a_falsy_title_of_another_type_is_not_taken_for_a_missing_one(title: Any) -> None:
    with pytest.raises(InvalidArticle, match="field 'title' must be a string"):
        parse_raw_article({"title": title, "url": "https://example.com/a", "text": "b"})


def test_loads_wraps_decode_errors() -> None:
    assert loads(b'{"a": 1}') == {"a": 1}
    with pytest.raises(InvalidRecord, match="not valid JSON"):
        loads(b"{")
