"""Feed entries to raw articles, and dates from whatever format a feed uses (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import FeedError, InvalidArticle
from streams.messages import RawArticle, dumps, parse_raw_article
from streams.producers import (
    FeedConfig,
    entry_to_article,
    html_to_text,
    normalise_date,
    parse_feed,
)
from streams.producers.feeds.items import with_page

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
BASE = "http://127.0.0.1:8788/"


def articles(name: str, **feed: str) -> list[RawArticle | str]:
    """The fixture's entries as articles, or the reason one is invalid."""
    parsed = parse_feed((FEEDS / name).read_bytes(), url=BASE + name)
    config = FeedConfig(url=BASE + name, source="Fixture", **feed)  # type: ignore[arg-type]
    out: list[RawArticle | str] = []
    for entry in parsed.entries:
        try:
            out.append(entry_to_article(entry, feed=config, feed_language=parsed.language))
        except InvalidArticle as exc:
            out.append(str(exc))
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 01 Dec 2026 08:30:00 GMT", "2026-12-01T08:30:00Z"),  # RFC 822
        ("Wed, 02 Dec 2026 14:05:00 +0100", "2026-12-02T13:05:00Z"),
        ("Wed, 02 Dec 2026 09:05:00 EST", "2026-12-02T14:05:00Z"),
        ("2026-12-05T09:15:00+01:00", "2026-12-05T08:15:00Z"),  # ISO 8601
        ("2026-12-04T16:20:00.250Z", "2026-12-04T16:20:00Z"),
        ("2026-12-03 09:00:00 +0000", "2026-12-03T09:00:00Z"),
        ("20261203T090000Z", "2026-12-03T09:00:00Z"),
        ("2026-12-03", "2026-12-03T00:00:00Z"),  # no time, no zone: midnight UTC
        ("2026-12-03T09:00", "2026-12-03T09:00:00Z"),
        ("Di, 08 Dez 2026 09:30:00 +0100", "2026-12-08T08:30:00Z"),  # German
        ("Mo, 09 Mär 2026 18:00:00 MEZ", "2026-03-09T17:00:00Z"),
        ("Dienstag, 8. Dezember 2026 09:30 MESZ", "2026-12-08T07:30:00Z"),
        ("lundi 7 décembre 2026 10:00:00 +0100", "2026-12-07T09:00:00Z"),  # French
        ("7 déc. 2026 10:00 CET", "2026-12-07T09:00:00Z"),
        ("  Tue,  01 Dec 2026\n08:30:00 GMT ", "2026-12-01T08:30:00Z"),
    ],
)
def test_dates_are_normalised_to_utc_iso_8601(text: str, expected: str) -> None:
    assert normalise_date(text) == expected


@pytest.mark.parametrize(
    "text", [None, "", "   ", "sometime last week", "32 Dec 2026", "0001-01-01"]
)
def test_a_date_that_does_not_read_is_none(text: str | None) -> None:
    assert normalise_date(text) is None


def test_html_to_text_keeps_paragraphs_and_drops_scripts() -> None:
    html = "<p>First <b>bold</b>&amp;co.</p><script>alert(1)</script><ul><li>a</li><li>b</li></ul>x"
    assert html_to_text(html) == "First bold&co.\na\nb\nx"


def test_rss2_items_become_raw_articles_with_the_producers_ids() -> None:
    got = articles("rss2.xml")
    first = got[0]
    assert isinstance(first, RawArticle)
    assert first.title == "Port of Rotterdam reports record container volumes"
    assert first.text is not None and first.text.startswith("The Port of Rotterdam handled")
    assert "<p>" not in first.text and "\n" in first.text  # html → text, paragraphs kept
    assert first.published_at == "2026-12-01T08:30:00Z"
    assert first.source == "Fixture" and first.language == "en"  # <language>en-gb</language>
    assert first.html is None
    # the same id as every producer: from the canonical URL (tracking parameters dropped)
    clean = {"url": "https://harbour-wire.example.org/news/rotterdam-record-volumes"}
    assert first.id == parse_raw_article({**clean, "title": "t", "text": "x"}).id


def test_content_encoded_wins_over_a_shorter_description() -> None:
    steel = articles("rss2.xml")[1]
    assert isinstance(steel, RawArticle) and steel.text is not None
    assert steel.text.startswith("The European Commission opened an anti-dumping")
    assert steel.published_at == "2026-12-02T13:05:00Z"


def test_duplicate_guids_give_the_same_id() -> None:
    got = articles("rss2.xml")
    assert isinstance(got[1], RawArticle) and isinstance(got[2], RawArticle)
    assert got[1].id == got[2].id


def test_relative_links_are_resolved_against_the_feed_url() -> None:
    baltic = articles("rss2.xml")[3]
    assert isinstance(baltic, RawArticle)
    assert baltic.url == BASE + "pages/baltic-capacity.html"


def test_an_odd_date_is_left_out_and_an_item_without_text_is_invalid() -> None:
    got = articles("rss2.xml")
    hamburg, empty = got[4], got[5]
    assert isinstance(hamburg, RawArticle) and hamburg.published_at is None
    assert empty == "article has neither 'text' nor 'html'"


def test_latin1_without_a_declaration_reads_with_its_umlauts() -> None:
    first, second = articles("latin1.xml", language="de")
    assert isinstance(first, RawArticle) and isinstance(second, RawArticle)
    assert first.title == "Exporte nach Österreich steigen deutlich"
    assert first.text is not None and "zwölf Prozent" in first.text
    assert first.published_at == "2026-12-08T08:30:00Z"  # "Di, 08 Dez 2026 09:30:00 +0100"
    assert second.published_at == "2026-03-09T17:00:00Z"  # "Mo, 09 Mär 2026 18:00:00 MEZ"
    assert first.language == "de"  # the feeds file's hint; the feed declares none


def test_atom_with_xhtml_content_xml_base_and_an_html_title() -> None:
    rates, copper = articles("atom.xml")
    assert isinstance(rates, RawArticle) and isinstance(copper, RawArticle)
    assert rates.title == "Central bank holds rates steady"
    assert rates.url == "https://ledger.example.com/markets/rates-steady"  # xml:base
    assert rates.text == (
        "The central bank kept its main interest rate at 3.5 percent on Saturday, as "
        "analysts had expected.\nIts governor said inflation was falling faster than forecast."
    )
    assert rates.published_at == "2026-12-05T08:15:00Z"
    assert copper.published_at == "2026-12-04T16:20:00Z"  # only <updated>
    assert rates.language == copper.language == "en"  # xml:lang


def test_rss1_reads_dc_date() -> None:
    (grain,) = articles("rss1.xml")
    assert isinstance(grain, RawArticle)
    assert grain.published_at == "2026-12-01T12:00:00Z"
    assert grain.url == "https://almanac.example.net/briefs/grain-exports"


@pytest.mark.parametrize(
    "body", [(FEEDS / "malformed.xml").read_bytes(), b"", b"\x00\x01binary", b"{}"]
)
def test_a_document_that_is_no_feed_is_a_feed_error(body: bytes) -> None:
    with pytest.raises(FeedError, match="malformed feed"):
        parse_feed(body, url=BASE + "x.xml")


def test_an_item_over_the_size_limit_is_invalid_with_the_reason() -> None:
    parsed = parse_feed((FEEDS / "rss2.xml").read_bytes(), url=BASE + "rss2.xml")
    config = FeedConfig(url=BASE + "rss2.xml", source="Fixture")
    entry = parsed.entries[0]
    fitting = entry_to_article(entry, feed=config, feed_language=None)
    size = len(dumps(fitting))
    assert entry_to_article(entry, feed=config, feed_language=None, max_bytes=size) == fitting
    with pytest.raises(InvalidArticle, match=f"article is {size:,} bytes; at most {size - 1:,}"):
        entry_to_article(entry, feed=config, feed_language=None, max_bytes=size - 1)


def test_a_page_that_would_make_the_article_too_large_is_left_out() -> None:
    article = parse_raw_article({"url": "https://example.org/a", "title": "T", "text": "feed"})
    page = "<html><body><p>" + "word " * 1_000 + "</p></body></html>"
    paged, problem = with_page(article, page, max_bytes=100_000)
    assert paged.html == page and problem is None
    kept, problem = with_page(article, page, max_bytes=1_000)
    assert kept == article and kept.html is None
    assert problem is not None and "NEWSSTREAM_MAX_ARTICLE_BYTES (1,000)" in problem
