"""Bulk indexing of enriched articles, with each outcome classified.

Three outcomes per document, as in arroyo's DLQ design:
  indexed   -> done;
  retryable -> 429 / 5xx / connection trouble: back off and send again, commit nothing;
  rejected  -> a mapping or parse error retrying cannot fix: dead-letter it, commit.
Document ids are the article ids, so a replay after a crash overwrites, never duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout as EsConnectionTimeout

from streams.elastic.client import RETRYABLE_STATUS
from streams.errors import SinkBackpressure, SinkError


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    indexed: list[str] = field(default_factory=list)
    retryable: dict[str, str] = field(default_factory=dict)  # id -> reason
    rejected: dict[str, str] = field(default_factory=dict)  # id -> reason


def index_operations(
    index: str, docs: Sequence[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The bulk body: an ``index`` action (create or overwrite) per document."""
    operations: list[dict[str, Any]] = []
    for doc_id, doc in docs:
        operations.append({"index": {"_index": index, "_id": doc_id}})
        operations.append(doc)
    return operations


def classify_items(items: Sequence[dict[str, Any]]) -> BulkOutcome:
    outcome = BulkOutcome()
    for item in items:
        result = next(iter(item.values()))
        doc_id = str(result.get("_id"))
        status = int(result.get("status", 0))
        if 200 <= status < 300:
            outcome.indexed.append(doc_id)
            continue
        error = result.get("error") or {}
        reason = f"{status} {error.get('type', 'error')}: {error.get('reason', '')}".strip()
        if status in RETRYABLE_STATUS:
            outcome.retryable[doc_id] = reason
        else:
            outcome.rejected[doc_id] = reason
    return outcome


async def bulk_index(
    es: AsyncElasticsearch, index: str, docs: Sequence[tuple[str, dict[str, Any]]]
) -> BulkOutcome:
    """Send one bulk request; raise SinkBackpressure when the whole request must be retried."""
    if not docs:
        return BulkOutcome()
    try:
        response = await es.bulk(operations=index_operations(index, docs), refresh=False)
    except (EsConnectionError, EsConnectionTimeout) as exc:
        raise SinkBackpressure(f"Elasticsearch unreachable: {exc}", retry_after=2.0) from exc
    except ApiError as exc:
        if exc.meta.status in RETRYABLE_STATUS:
            raise SinkBackpressure(f"Elasticsearch answered {exc.meta.status}: {exc}") from exc
        raise SinkError(f"Elasticsearch refused the bulk request: {exc}") from exc
    return classify_items(response["items"])
