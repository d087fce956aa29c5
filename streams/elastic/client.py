"""Elasticsearch clients built from settings (the one place that knows about auth)."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout as EsConnectionTimeout

from streams.errors import SinkBackpressure, SinkError
from streams.settings import Settings


def _client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "hosts": [settings.es_url],
        "request_timeout": settings.es_timeout,
        # Retries of a bulk request are ours (see streams.elastic.bulk): the client must not
        # resend a half-applied bulk on its own.
        "max_retries": 0,
        "retry_on_timeout": False,
    }
    if settings.es_api_key:
        options["api_key"] = str(settings.es_api_key)
    elif settings.es_username:
        options["basic_auth"] = (settings.es_username, str(settings.es_password))
    return options


def make_client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(**_client_options(settings))


def make_async_client(settings: Settings) -> AsyncElasticsearch:
    return AsyncElasticsearch(**_client_options(settings))


# Answers that mean "not now" rather than "never": wait and retry, dead-letter nothing.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def as_sink_error(exc: Exception, what: str) -> SinkError:
    """Classify an Elasticsearch client error: backpressure (retry) or a real refusal."""
    if isinstance(exc, EsConnectionError | EsConnectionTimeout):
        return SinkBackpressure(f"{what}: Elasticsearch unreachable: {exc}", retry_after=2.0)
    if isinstance(exc, ApiError) and exc.meta.status in RETRYABLE_STATUS:
        return SinkBackpressure(f"{what}: Elasticsearch answered {exc.meta.status}: {exc}")
    return SinkError(f"{what}: {exc}")
