"""Idempotent set-up of everything the pipeline needs outside itself."""

from __future__ import annotations

from elasticsearch import ConnectionError as EsConnectionError
from kafka import KafkaAdminClient

from streams.elastic import ensure_indices, make_client
from streams.elastic.client import status_of, unreachable_reason
from streams.errors import SinkError
from streams.kafka import KafkaConnection, ensure_topics
from streams.settings import Settings


def setup_everything(settings: Settings) -> list[str]:
    """Create missing topics, index templates, the articles alias and the alerts index."""
    lines = []
    created_topics = ensure_topics(settings)
    lines.append(f"kafka topics: {', '.join(created_topics) or 'all present'}")
    es = make_client(settings)
    try:
        created = ensure_indices(
            es,
            articles_alias=settings.articles_alias,
            alerts_index=settings.alerts_index,
            fingerprints_index=settings.fingerprints_index,
        )
    except SinkError as exc:
        cause = exc.__cause__
        if isinstance(cause, EsConnectionError) or status_of(cause) in (401, 403):
            # The operator's fix is a setting: name it (certificate, credentials, URL).
            raise SinkError(unreachable_reason(cause, settings)) from cause
        raise
    finally:
        es.close()
    lines.append(f"elasticsearch: {', '.join(created) or 'templates updated, indices present'}")
    return lines


def remove_everything(settings: Settings) -> None:
    """Delete the topics and indices of ``settings`` (test and benchmark runs clean up).

    Wildcard deletes are refused (``action.destructive_requires_name``): each index is named.
    """
    es = make_client(settings)
    try:
        aliases = es.indices.get_alias(name=settings.articles_alias, ignore_unavailable=True)
        for index in [*aliases, settings.alerts_index, settings.fingerprints_index]:
            es.indices.delete(index=index, ignore_unavailable=True)
    finally:
        es.close()
    admin = KafkaAdminClient(**KafkaConnection.from_settings(settings).kafka_python())
    try:
        names = [
            settings.topic_raw,
            settings.topic_enriched,
            settings.topic_dlq,
            settings.topic_alerts,
            settings.topic_alerts_dlq,
            settings.topic_poller_state,
        ]
        existing = set(admin.list_topics())
        admin.delete_topics([name for name in names if name in existing])
    finally:
        admin.close()
