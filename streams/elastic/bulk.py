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
from typing import Any, cast

import orjson
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from streams.elastic.client import RETRYABLE_STATUS, as_sink_error


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    indexed: list[str] = field(default_factory=list)
    retryable: dict[str, str] = field(default_factory=dict)  # id -> reason
    rejected: dict[str, str] = field(default_factory=dict)  # id -> reason


def index_operations(index: str, docs: Sequence[tuple[str, Any]]) -> list[bytes]:
    """The bulk body: an ``index`` action (create or overwrite) per document.

    Encoded here with orjson (documents may be the message dataclasses themselves), so
    the client passes the lines through instead of serialising them again; a document
    given as bytes is already its JSON line.
    """
    operations: list[bytes] = []
    for doc_id, doc in docs:
        operations.append(orjson.dumps({"index": {"_index": index, "_id": doc_id}}))
        operations.append(doc if isinstance(doc, bytes) else orjson.dumps(doc))
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
    es: AsyncElasticsearch, index: str, docs: Sequence[tuple[str, Any]]
) -> BulkOutcome:
    """Send one bulk request and classify each document's outcome.

    Raises SinkBackpressure when the whole request must wait and be sent again, and
    RecordRejected when Elasticsearch refused the request as a whole (e.g. too large):
    the caller then sends the documents one by one to find the one at fault.
    """
    if not docs:
        return BulkOutcome()
    try:
        # The client passes pre-encoded lines through; its stubs only know mappings.
        operations = cast(Any, index_operations(index, docs))
        response = await es.bulk(operations=operations, refresh=False)
    except (ApiError, TransportError) as exc:
        raise as_sink_error(exc, "bulk request") from exc
    return classify_items(response["items"])
