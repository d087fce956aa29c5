"""One complete example of each message, for the codec, schema and stage tests."""

from __future__ import annotations

from typing import Any

from streams.messages import (
    Alert,
    DeadLetter,
    EnrichedArticle,
    Entity,
    ScoredLabel,
    ScreeningHit,
    TopicMatch,
)


def an_article(title: str = "", body: str = "", **fields: Any) -> EnrichedArticle:
    """An enriched article with nothing found in it, unless ``fields`` say otherwise."""
    values: dict[str, Any] = {
        "id": "a1",
        "url": "https://news.example.com/a1",
        "language": "en",
        "source": "reuters",
        "published_at": "2025-01-02T10:00:00Z",
        "ingested_at": "2025-01-02T10:01:00Z",
        "entities": [],
        "categories": [],
        "topics": [],
        "keywords": [],
        **fields,
    }
    return EnrichedArticle(title=title, body=body, **values)


def an_enriched_article() -> EnrichedArticle:
    """Every field set, nested objects included, in the forms the schema asks for."""
    return EnrichedArticle(
        id="5d41402abc4b2a76b9719d911017c592",
        url="https://news.example.com/a",
        title="EU sanctions tankers",
        body="Brussels sanctioned Orlantis Maritime, Xi said.",
        language="en",
        source="meridianwire",
        published_at="2026-01-13T16:00:00Z",
        ingested_at="2026-01-13T16:00:01.123456+00:00",
        entities=[Entity("Orlantis Maritime", "ORG", [(20, 37)], 1)],
        categories=[ScoredLabel("politics", 0.9)],
        topics=[TopicMatch("sanctions", 0.82, ["sanctioned"])],
        keywords=["sanctions"],
        countries=["BE"],
        author="A. Writer",
        dateline="BRUSSELS",
        duplicate_of="0123456789abcdef0123456789abcdef",
        content_hash="ab" * 16,
        screening=[ScreeningHit("Orlantis Maritime", "ofac", "1", "ORLANTIS", ["RUSSIA"], 0.91)],
    )


def an_alert() -> Alert:
    return Alert(
        alert_id="9f2c" * 8,
        rule_id="sanctions-watch",
        rule_name="Sanctions news",
        article_id="5d41402abc4b2a76b9719d911017c592",
        article_title="EU sanctions tankers",
        article_url=None,
        evidence=["topic sanctions (score 0.82)"],
        created_at="2026-01-13T16:00:02Z",
        targets=["default"],
        article_source="meridianwire",
    )


def a_dead_letter() -> DeadLetter:
    return DeadLetter(
        reason="article has neither 'text' nor 'html'",
        error_type="InvalidArticle",
        stage="parse",
        source_topic="articles.raw",
        source_partition=0,
        source_offset=12,
        original="e30=",
        failed_at="2026-01-13T16:00:03Z",
        original_truncated=True,
        original_size=3,
    )
