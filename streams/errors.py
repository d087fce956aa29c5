"""Exceptions raised by newsstream.

Every error the pipeline raises derives from one root, so callers can tell
newsstream's failures from a library's::

    NewsstreamError
    ├── ConfigError            settings or a rules/taxonomy file is wrong; fix it and restart
    ├── InvalidRecord          a record cannot be processed: DLQ with the reason, never retried
    │   ├── InvalidArticle     not a valid raw or enriched article
    │   └── RecordRejected     Kafka or Elasticsearch refused this one record (too large,
    │                          mapping error, an id it cannot take)
    ├── EnrichmentError        enrichment of one article failed; it goes to the DLQ
    ├── TransientError         Kafka or Elasticsearch cannot take it now: wait, try again,
    │   │                      commit nothing (``retry_after``: the least wait in seconds)
    │   ├── SinkBackpressure   Elasticsearch: 429 / 5xx / unreachable / credentials refused
    │   └── BrokerUnavailable  Kafka: no leader, a timeout, a lost connection
    ├── SinkError              Elasticsearch refused a request (SinkBackpressure is one too)
    ├── DeliveryError          a webhook delivery failed (retryable or not)
    ├── FeedError              a feed could not be fetched or read; the poller backs off
    ├── KibanaError            Kibana refused or did not answer `newsstream kibana import`
    └── StackError             the local Kafka/Elasticsearch stack could not be started

Library exceptions are wrapped at the edge with ``raise ... from exc``.
"""

from __future__ import annotations


class NewsstreamError(Exception):
    """Root of every error newsstream raises."""


class ConfigError(NewsstreamError):
    """Configuration is invalid. The message names the setting or file to fix."""


class InvalidRecord(NewsstreamError):
    """A record cannot be processed; it is dead-lettered with this message, never retried."""


class InvalidArticle(InvalidRecord):
    """A record is not a valid raw or enriched article."""


class RecordRejected(InvalidRecord):
    """Kafka or Elasticsearch refused this one record for a reason retrying cannot fix."""


class EnrichmentError(NewsstreamError):
    """Enriching one article failed; the article is dead-lettered."""


class TransientError(NewsstreamError):
    """Kafka or Elasticsearch cannot take it now; no record is at fault. Wait and retry."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SinkError(NewsstreamError):
    """Elasticsearch did not accept a bulk request."""


class SinkBackpressure(SinkError, TransientError):
    """Elasticsearch asked us to slow down, is unreachable, or refuses our credentials."""


class BrokerUnavailable(TransientError):
    """Kafka could not take a record now (no leader, a timeout, a lost connection)."""


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


class FeedError(NewsstreamError):
    """A feed could not be fetched or read (HTTP error, timeout, too large, malformed).

    The poller backs the feed off and tries again; ``retry_after`` is the least wait the
    server asked for (429/503 Retry-After), 0.0 when it did not say.
    """

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KibanaError(NewsstreamError):
    """Kibana did not take the saved objects: unreachable, credentials or privileges refused,
    or objects it would not import. The message names the setting or object to fix."""


class StackError(NewsstreamError):
    """The local Kafka/Elasticsearch stack is not usable."""
