"""Elasticsearch clients built from settings (the one place that knows about auth)."""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch

from streams.settings import Settings


def _client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "hosts": [settings.es_url],
        "request_timeout": settings.es_timeout,
        # Retries of a bulk request are ours (see streams.sink.bulk): the client must not
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
