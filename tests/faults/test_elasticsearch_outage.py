"""Elasticsearch frozen, then stopped and restarted, while articles stream in.

The worker must wait it out: the same process throughout (no crash loop), memory
bounded (Kafka holds the backlog, not the worker), and afterwards every article
searchable exactly once with nothing dead-lettered.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from tests.integration.conftest import wait_until

from .conftest import Feeder, Pipeline, Worker, duplicates, make_articles
from .servers import ElasticsearchNode, freeze, thaw

pytestmark = pytest.mark.faults

FROZEN_SECONDS = 30.0
STOPPED_SECONDS = 10.0
# What the worker may grow by over the outage: its batches in flight and client buffers.
# A worker that buffered the whole backlog, or leaked per retry, would pass it.
RSS_GROWTH_LIMIT = 300 * 1024 * 1024


class RssSampler(threading.Thread):
    """The worker's resident memory, every half second, from /proc."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.samples: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5) and self.worker.alive:
            self.samples.append(self.worker.rss_bytes())

    def finish(self) -> int:
        self.done.set()
        self.join()
        return max(self.samples, default=0)


@pytest.mark.timeout(900)
def test_the_sink_waits_out_a_frozen_and_a_restarted_elasticsearch(
    pipeline: Callable[..., Pipeline],
    fault_elasticsearch: ElasticsearchNode,
    report: Callable[..., None],
) -> None:
    p = pipeline()
    articles = make_articles("es-outage", 900)
    ids = [a["id"] for a in articles]
    worker = p.start_worker()
    pid = worker.pid
    feeder = Feeder(p.settings, articles, per_second=10)
    feeder.start()
    wait_until(lambda: p.searchable_count() >= 100, timeout=180, what="100 articles searchable")
    baseline = worker.rss_bytes()
    sampler = RssSampler(worker)
    sampler.start()

    freeze(fault_elasticsearch)
    time.sleep(FROZEN_SECONDS)
    thaw(fault_elasticsearch)
    before = p.searchable_count()
    thawed = time.monotonic()
    wait_until(
        lambda: p.searchable_count() > before,
        timeout=120,
        what="indexing to resume after Elasticsearch thawed",
    )
    resumed_after_thaw = time.monotonic() - thawed

    fault_elasticsearch.stop()
    time.sleep(STOPPED_SECONDS)
    es_startup = fault_elasticsearch.start()
    before = p.searchable_count()
    restarted = time.monotonic()
    wait_until(
        lambda: p.searchable_count() > before,
        timeout=180,
        what="indexing to resume after Elasticsearch restarted",
    )
    resumed_after_restart = time.monotonic() - restarted

    produced = feeder.finish(timeout=120)
    found = p.wait_searchable(ids, timeout=300)
    peak = sampler.finish()
    letters = p.dead_letters(p.settings.topic_dlq)
    report(
        produced=produced,
        searchable=len(set(found)),
        dead_lettered=len(letters),
        duplicated=duplicates(Counter(found)),
        rss_before_mb=baseline / 2**20,
        rss_peak_mb=peak / 2**20,
        resumed_after_thaw_s=resumed_after_thaw,
        es_restart_s=es_startup,
        resumed_after_restart_s=resumed_after_restart,
        tracebacks_in_log=worker.log.read_text(errors="replace").count("Traceback"),
    )
    assert worker.alive and worker.pid == pid, "the worker must wait, not crash"
    assert sorted(found) == sorted(ids), "every article exactly once"
    assert letters == [], "an outage is waited out, never dead-lettered"
    assert peak - baseline < RSS_GROWTH_LIMIT, (
        f"the worker grew by {(peak - baseline) / 2**20:.0f} MiB during the outage"
    )
