"""Kafka administration: the pipeline's topics, created with explicit partition counts."""

from streams.kafka.topics import ensure_topics, pipeline_topics

__all__ = ["ensure_topics", "pipeline_topics"]
