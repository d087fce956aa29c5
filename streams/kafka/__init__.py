"""Kafka administration: the brokers do not auto-create topics, so the pipeline's topics are
created here, idempotently and with explicit partition counts, before anything runs."""

from streams.kafka.topics import ensure_topics

__all__ = ["ensure_topics"]
