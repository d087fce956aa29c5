"""Messages that travel between the stages, as frozen dataclasses: the one definition.

orjson serialises them directly; streams.messages.codec validates incoming JSON
against them with msgspec, and streams.messages.schema generates schemas/*.schema.json
from them (``make schemas``). ``Meta`` annotations carry what a reader of the schema
needs beyond the type: descriptions, formats and the constraints the codec enforces.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Annotated, Literal

from msgspec import Meta

from streams.messages.limits import ID_PATTERN, MAX_ID_CHARS

# Formats are documentation for schema readers; the codec does not check them.
_DateTime = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
_Uri = Annotated[str, Meta(extra_json_schema={"format": "uri"})]
_Offset = Annotated[int, Meta(ge=0)]
_CountryCode = Annotated[str, Meta(pattern="^[A-Z]{2}$")]

DEAD_LETTER_STAGES = ("parse", "enrich", "index", "match-alerts", "deliver-alerts")


@dataclass(frozen=True, slots=True)
class RawArticle:
    """An article as a producer publishes it to ``articles.raw``.

    Needs non-blank text or html, and a title or a url. ``id`` may be left out: the
    codec assigns a stable one (sha256 of the canonical URL, else of the normalised
    title and text, first 32 hex digits). ``title`` may be left out or null. The whole
    record is at most NEWSSTREAM_MAX_ARTICLE_BYTES (2 MiB by default).
    """

    id: Annotated[
        str,
        Meta(
            pattern=f"^{ID_PATTERN.pattern}$",
            max_length=MAX_ID_CHARS,
            description="Letters, digits, '.', '_', ':', '-'; the Elasticsearch _id.",
        ),
    ]
    title: str
    url: _Uri | None = None
    text: Annotated[str | None, Meta(description="Plain (possibly scraped) article text.")] = None
    html: Annotated[
        str | None, Meta(description="A whole HTML page; the main text is extracted.")
    ] = None
    source: str | None = None
    published_at: _DateTime | None = None
    language: Annotated[str | None, Meta(description="ISO 639-1, if the producer knows it.")] = None


@dataclass(frozen=True, slots=True)
class Entity:
    name: Annotated[str, Meta(description="Canonical name, e.g. 'Xi Jinping' for 'President Xi'.")]
    label: Annotated[
        str, Meta(description="PERSON, ORG, GPE, LOC, NORP, EVENT, MONEY, PERCENT, DATE, ...")
    ]
    spans: Annotated[
        list[tuple[_Offset, _Offset]],
        Meta(description="[start, end) character offsets of each mention in body."),
    ]
    count: Annotated[int, Meta(ge=1)]
    source: Annotated[
        str,
        Meta(
            description="What found it: the NER model's name (e.g. 'newsstream', "
            "'fr_core_news_sm') or 'gazetteer' (places by list look-up); persons named by "
            "a role ('ambassador Igor Morgulov') are added by pattern to either. Empty in "
            "records written before the field existed."
        ),
    ] = ""


@dataclass(frozen=True, slots=True)
class ScoredLabel:
    label: str
    score: float
    # Why: the words or n-grams that raised this label most, strongest first. Empty in
    # messages written before it existed, so old messages still decode.
    evidence: tuple[str, ...] = ()


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
    body: Annotated[str, Meta(description="Clean text; entity spans index into it.")]
    language: Annotated[str | None, Meta(description="ISO 639-1")]
    source: str | None
    published_at: str | None
    ingested_at: _DateTime
    entities: list[Entity]
    categories: Annotated[
        list[ScoredLabel], Meta(description="IPTC Media Topics top level, best first.")
    ]
    topics: Annotated[
        list[TopicMatch],
        Meta(description="Watch topics, best first, with the evidence that made them match."),
    ]
    keywords: list[str]
    countries: list[_CountryCode] = field(default_factory=list)
    author: str | None = None
    dateline: str | None = None
    duplicate_of: Annotated[
        str | None, Meta(description="Id of the first article seen of the same story.")
    ] = None
    content_hash: str | None = None
    screening: list[ScreeningHit] = field(default_factory=list)
    received_at: Annotated[
        _DateTime | None,
        Meta(
            description="When the raw record reached Kafka (its timestamp); the start of "
            "the ingest latency. None from the offline `newsstream enrich`."
        ),
    ] = None
    truncated: Annotated[
        bool,
        Meta(
            description="body was cut at a word boundary to NEWSSTREAM_MAX_BODY_CHARS "
            "before enrichment; entities, topics and keywords cover only what is kept"
        ),
    ] = False


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule that fired on an article; published to ``alerts`` and recorded in ``news-alerts``."""

    alert_id: Annotated[str, Meta(description="sha256(rule id + story id), the dedup key")]
    rule_id: str
    rule_name: str
    article_id: str
    article_title: str
    article_url: str | None
    evidence: list[str]
    created_at: _DateTime
    targets: list[str]
    # Shown in webhook payloads when known (streams.alerts.payloads).
    article_source: str | None = None
    article_published_at: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be processed, with where it came from and why.

    Published to ``articles.dlq`` and ``alerts.dlq``.
    """

    reason: Annotated[str, Meta(description="What went wrong, for a person.")]
    error_type: str
    # A plain str so callers need no cast; the schema still lists the stages.
    stage: Annotated[str, Meta(extra_json_schema={"enum": list(DEAD_LETTER_STAGES)})]
    source_topic: str
    source_partition: int
    source_offset: int
    # base64 because the record may not be valid UTF-8.
    original: Annotated[
        str,
        Meta(
            description="The original record bytes, base64.",
            extra_json_schema={"contentEncoding": "base64"},
        ),
    ]
    failed_at: _DateTime
    original_truncated: Annotated[
        bool, Meta(description="original holds only the first 512 KiB")
    ] = False
    original_size: Annotated[
        int, Meta(description="size of the whole original record in bytes")
    ] = 0


# --- the webhook payload (targets of type webhook; streams.alerts.payloads) --------------


@dataclass(frozen=True, slots=True)
class WebhookRule:
    id: Annotated[str, Meta(description="The rule's id in the rules file.")]
    name: str


@dataclass(frozen=True, slots=True)
class WebhookArticle:
    id: Annotated[str, Meta(description="Document id in the news-articles index.")]
    title: str
    url: _Uri | None
    source: str | None
    published_at: str | None


@dataclass(frozen=True, slots=True)
class WebhookLinks:
    article: _Uri | None
    kibana: Annotated[_Uri, Meta(description="Kibana Discover, filtered to this article's id.")]


_AlertIdField = Annotated[
    str, Meta(description="Stable per (rule, story): use it to drop a repeated delivery.")
]
_EvidenceField = Annotated[
    list[str],
    Meta(
        description="Why the rule fired: matched terms, topics with scores, entities, "
        "screening hits."
    ),
]


@dataclass(frozen=True, slots=True)
class WebhookAlert:
    """One alert of a digest."""

    alert_id: _AlertIdField
    created_at: _DateTime
    article: WebhookArticle
    evidence: _EvidenceField
    links: WebhookLinks


@dataclass(frozen=True, slots=True)
class AlertPayload:
    """One alert (``kind`` alert): the rule plus the fields of one WebhookAlert."""

    # Spelled out rather than inherited from WebhookAlert: field order is the JSON
    # key order, and receivers have seen schema_version, kind and rule first.
    schema_version: Literal[1]
    kind: Literal["alert"]
    rule: WebhookRule
    alert_id: _AlertIdField
    created_at: _DateTime
    article: WebhookArticle
    evidence: _EvidenceField
    links: WebhookLinks


@dataclass(frozen=True, slots=True)
class DigestWindow:
    """The throttle window the digest covers."""

    start: _DateTime
    end: _DateTime


@dataclass(frozen=True, slots=True)
class DigestPayload:
    """One rule's alerts of a throttle window (``kind`` digest)."""

    schema_version: Literal[1]
    kind: Literal["digest"]
    rule: WebhookRule
    window: DigestWindow
    count: Annotated[int, Meta(ge=1)]
    alerts: Annotated[list[WebhookAlert], Meta(min_length=1)]


WebhookPayload = AlertPayload | DigestPayload
