"""Elasticsearch at the edge: clients, index templates and lifecycle, bulk indexing and the
stores. Client errors are classified here (SinkBackpressure: nothing fits now;
RecordRejected: this one record is refused), so callers deal only in the project's own
errors."""

from streams.elastic.alert_store import AlertStatus, Claim, claim, mark
from streams.elastic.bulk import BulkOutcome, bulk_index
from streams.elastic.client import make_async_client, make_client
from streams.elastic.fingerprints import FingerprintStore
from streams.elastic.indices import ensure_indices, load_template
from streams.elastic.lifecycle import Lifecycle, run_lifecycle

__all__ = [
    "AlertStatus",
    "BulkOutcome",
    "Claim",
    "FingerprintStore",
    "Lifecycle",
    "bulk_index",
    "claim",
    "ensure_indices",
    "load_template",
    "make_async_client",
    "make_client",
    "mark",
    "run_lifecycle",
]
