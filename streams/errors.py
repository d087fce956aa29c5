"""Exceptions raised by newsstream.

Every error the pipeline raises derives from one root, so callers can tell
newsstream's failures from a library's::

    NewsstreamError
    ├── ConfigError            settings or a rules/taxonomy file is wrong; fix it and restart
    ├── InvalidArticle         a record cannot be processed; it goes to the DLQ, never retried
    ├── EnrichmentError        enrichment of one article failed; it goes to the DLQ
    ├── SinkError              Elasticsearch refused or could not be reached
    │   ├── SinkBackpressure   429 / bulk queue full: wait and retry, do not commit
    │   └── DocumentRejected   one document refused (mapping error): DLQ, commit the rest
    ├── DeliveryError          a webhook delivery failed (retryable or not)
    └── StackError             the local Kafka/Elasticsearch stack could not be started

Library exceptions are wrapped at the edge with ``raise ... from exc``.
"""

from __future__ import annotations


class NewsstreamError(Exception):
    """Root of every error newsstream raises."""


class ConfigError(NewsstreamError):
    """Configuration is invalid. The message names the setting or file to fix."""


class InvalidArticle(NewsstreamError):
    """A record is not a valid raw article; it is dead-lettered with this message."""


class EnrichmentError(NewsstreamError):
    """Enriching one article failed; the article is dead-lettered."""


class SinkError(NewsstreamError):
    """Elasticsearch did not accept a bulk request."""


class SinkBackpressure(SinkError):
    """Elasticsearch asked us to slow down (HTTP 429 or rejected bulk items)."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DocumentRejected(SinkError):
    """Elasticsearch refused one document for a reason retrying cannot fix."""


class DeliveryError(NewsstreamError):
    """Delivering an alert to a webhook failed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status_code = status_code


class StackError(NewsstreamError):
    """The local Kafka/Elasticsearch stack is not usable."""
