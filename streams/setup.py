"""Idempotent set-up of everything the pipeline needs outside itself."""

from __future__ import annotations

from streams.settings import Settings
from streams.sink.client import make_client
from streams.sink.indices import ensure_indices
from streams.topics import ensure_topics


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
    finally:
        es.close()
    lines.append(f"elasticsearch: {', '.join(created) or 'templates updated, indices present'}")
    return lines
