"""Kafka administration: the brokers do not auto-create topics, so the pipeline's topics are
created here, idempotently and with explicit partition counts, before anything runs.
The dead-letter topics are read back (inspected, their originals replayed) in ``dlq``."""

from streams.kafka.connection import KafkaConnection, diagnose
from streams.kafka.dlq import (
    Filters,
    KafkaPublisher,
    Letter,
    Replay,
    ReplayReport,
    Skip,
    Summary,
    Unreadable,
    decode,
    format_replay,
    format_summary,
    parse_time,
    read_dlq,
    replay,
    replays_of,
    select,
    short_reason,
    summarize,
)
from streams.kafka.topics import ensure_topics

__all__ = [
    "Filters",
    "KafkaConnection",
    "KafkaPublisher",
    "Letter",
    "Replay",
    "ReplayReport",
    "Skip",
    "Summary",
    "Unreadable",
    "decode",
    "diagnose",
    "ensure_topics",
    "format_replay",
    "format_summary",
    "parse_time",
    "read_dlq",
    "replay",
    "replays_of",
    "select",
    "short_reason",
    "summarize",
]
