"""Producers: put raw articles on ``articles.raw`` as they come, valid or not, so the
worker is the one place that judges a record (and dead-letters it with the reason)."""

from streams.producers.jsonl import make_producer, produce, read_lines, to_record

__all__ = ["make_producer", "produce", "read_lines", "to_record"]
