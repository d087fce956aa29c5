"""Elasticsearch at the edge: clients, templates and indices, bulk indexing, and the stores.

Errors of the client are classified here (``as_sink_error``): SinkBackpressure when
Elasticsearch cannot take anything now, RecordRejected when it refuses one record.
"""

from streams.elastic.alert_store import AlertStatus, Claim, alert_record, claim, mark
from streams.elastic.bulk import BulkOutcome, bulk_index, classify_items, index_operations
from streams.elastic.client import as_sink_error, make_async_client, make_client
from streams.elastic.fingerprints import FingerprintStore
from streams.elastic.indices import ensure_indices, load_template

__all__ = [
    "AlertStatus",
    "BulkOutcome",
    "Claim",
    "FingerprintStore",
    "alert_record",
    "as_sink_error",
    "bulk_index",
    "claim",
    "classify_items",
    "ensure_indices",
    "index_operations",
    "load_template",
    "make_async_client",
    "make_client",
    "mark",
]
