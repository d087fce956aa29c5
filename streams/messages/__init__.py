"""One definition of every record the stages exchange, and one way to read it off the wire:
every stage decodes through these functions, so a bad record fails the same way
(InvalidRecord) wherever it is read. ``streams.messages.schema`` generates the schemas."""

from streams.messages.codec import (
    alert_from_json,
    dead_letter_from_json,
    dumps,
    enriched_from_json,
    loads,
    parse_raw_article,
)
from streams.messages.limits import (
    DEFAULT_MAX_ARTICLE_BYTES,
    DEFAULT_MAX_BODY_CHARS,
    kafka_record_bytes,
    truncate_at_word,
)
from streams.messages.models import (
    Alert,
    AlertPayload,
    DeadLetter,
    DigestPayload,
    DigestWindow,
    EnrichedArticle,
    Entity,
    RawArticle,
    ScoredLabel,
    ScreeningHit,
    TopicMatch,
    WebhookAlert,
    WebhookArticle,
    WebhookLinks,
    WebhookPayload,
    WebhookRule,
)

__all__ = [
    "DEFAULT_MAX_ARTICLE_BYTES",
    "DEFAULT_MAX_BODY_CHARS",
    "Alert",
    "AlertPayload",
    "DeadLetter",
    "DigestPayload",
    "DigestWindow",
    "EnrichedArticle",
    "Entity",
    "RawArticle",
    "ScoredLabel",
    "ScreeningHit",
    "TopicMatch",
    "WebhookAlert",
    "WebhookArticle",
    "WebhookLinks",
    "WebhookPayload",
    "WebhookRule",
    "alert_from_json",
    "dead_letter_from_json",
    "dumps",
    "enriched_from_json",
    "kafka_record_bytes",
    "loads",
    "parse_raw_article",
    "truncate_at_word",
]
