"""``/metrics`` as every long-running newsstream process answers it (worker, api, poll)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# The classic text format, not prometheus_client's newer default (1.0.0, since 0.23):
# what generate_latest writes by default (names escaped to underscores) is that format,
# and every Prometheus and agent version scrapes it.
METRICS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def metrics_text(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
