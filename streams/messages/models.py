"""Messages that travel between the stages, as frozen dataclasses.

Their JSON form is what schemas/*.schema.json describe; orjson serialises the
dataclasses directly (see streams.messages.codec).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RawArticle:
    """An article as a producer publishes it to ``articles.raw``."""

    id: str
    title: str
    url: str | None = None
    text: str | None = None
    html: str | None = None
    source: str | None = None
    published_at: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    label: str
    spans: list[tuple[int, int]]
    count: int


@dataclass(frozen=True, slots=True)
class ScoredLabel:
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """A watch topic with the evidence that made it match, so an analyst sees why."""

    label: str
    score: float
    evidence: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScreeningHit:
    """An entity that matched a sanctions list entry."""

    entity: str
    list: str
    entry_id: str
    entry_name: str
    programs: builtins.list[str]
    score: float


@dataclass(frozen=True, slots=True)
class EnrichedArticle:
    """What the enrichment agent publishes to ``articles.enriched`` and the sink indexes."""

    id: str
    url: str | None
    title: str
    body: str
    language: str | None
    source: str | None
    published_at: str | None
    ingested_at: str
    entities: list[Entity]
    categories: list[ScoredLabel]
    topics: list[TopicMatch]
    keywords: list[str]
    countries: list[str] = field(default_factory=list)
    author: str | None = None
    dateline: str | None = None
    duplicate_of: str | None = None
    content_hash: str | None = None
    screening: list[ScreeningHit] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule that fired on an article; published to ``alerts`` and recorded in ``news-alerts``."""

    alert_id: str
    rule_id: str
    rule_name: str
    article_id: str
    article_title: str
    article_url: str | None
    evidence: list[str]
    created_at: str
    targets: list[str]
    # Shown in webhook payloads when known (streams.alerts.payloads).
    article_source: str | None = None
    article_published_at: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be processed, with where it came from and why."""

    reason: str
    error_type: str
    stage: str
    source_topic: str
    source_partition: int
    source_offset: int
    original: str  # base64 of the original bytes: the record may not be valid UTF-8
    failed_at: str
    original_truncated: bool = False
    original_size: int = 0
