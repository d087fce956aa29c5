"""Worker memory over a long run: RSS while articles go produce → worker → Elasticsearch.

One `newsstream worker` on topics and indices of its own (``Settings.isolated``), with
the default alert rules and a webhook receiver on loopback, so every stage runs (enrich,
duplicates in Elasticsearch, index, match, deliver). BBC texts are published raw, cycled
with distinct URLs (so from the second round on every article is a duplicate of an
earlier one, as syndicated copies are), all up front: the worker is never idle.

Every ``every`` seconds the worker's VmRSS (/proc/<pid>/status) and the number of
articles Elasticsearch holds are noted. Reported: peak RSS, and the slope of RSS against
articles (MB per 1,000) after a warm-up, and RSS by quarter of the rest (floor, median,
peak): the worker levels off when the last quarter sits where the one before it did.
``python bench/run.py --only memory --memory-articles 20000``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from bench.corpus import raw_articles, repeated
from bench.latency import free_port
from streams.devtools import WebhookReceiver, localrun
from streams.elastic import make_client
from streams.producers import to_record
from streams.settings import Settings
from streams.setup import remove_everything, setup_everything

WARM_UP_SHARE = 0.2  # of the articles: model caches, Python's allocator, first batches
LEVEL_SHARE = 0.02


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x; None for fewer than 3 points."""
    if len(points) < 3:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def summarise(samples: Sequence[tuple[float, int, float]], total: int) -> dict[str, Any]:
    """Peak, slopes (MB per 1,000 articles) and RSS by quarter after the warm-up, from
    (seconds, articles, RSS MB) samples.

    RSS swings by 100 MB and more with each batch in hand (spaCy's work arrays, Faust's
    buffers), so a slope over half a run follows those swings as much as any growth. The
    verdict compares quarters instead: the median and the floor (the lowest RSS, what the
    worker holds between batches) of the last quarter against the quarter before it.
    Growth that does not stop raises both; buffers filling with a backlog raise them for
    a while, which is why a run's first quarters may sit lower.
    """
    after = [(n / 1000, mb) for _, n, mb in samples if n >= WARM_UP_SHARE * total]
    middle = WARM_UP_SHARE * total + (1 - WARM_UP_SHARE) * total / 2
    first = [(x, y) for x, y in after if x * 1000 < middle]
    second = [(x, y) for x, y in after if x * 1000 >= middle]
    rounded = {
        name: None if value is None else round(value, 2)
        for name, value in (
            ("mb_per_1000_after_warm_up", slope(after)),
            ("mb_per_1000_first_half", slope(first)),
            ("mb_per_1000_second_half", slope(second)),
        )
    }
    quarters = by_quarter(after)
    growth = quarters[-1]["median_mb"] - quarters[-2]["median_mb"] if len(quarters) == 4 else None
    return {
        "peak_rss_mb": round(max(mb for _, _, mb in samples), 1),
        "rss_mb_at_warm_up_end": round(after[0][1], 1) if after else None,
        "rss_mb_at_end": round(samples[-1][2], 1),
        **rounded,
        "quarters_after_warm_up": quarters,
        "median_growth_mb": None if growth is None else round(growth, 1),
        # Levelled off: the last quarter's median within 2 % of the quarter's before, and
        # its floor no higher than that either.
        "levels_off": growth is not None
        and growth <= LEVEL_SHARE * quarters[-2]["median_mb"]
        and quarters[-1]["floor_mb"] - quarters[-2]["floor_mb"]
        <= LEVEL_SHARE * quarters[-2]["median_mb"],
    }


def by_quarter(points: Sequence[tuple[float, float]]) -> list[dict[str, Any]]:
    """(thousands of articles, RSS MB) points cut in four runs of samples: each one's
    articles, floor, median and peak."""
    if len(points) < 8:
        return []
    size = len(points) // 4
    parts = [points[i * size : (i + 1) * size] for i in range(3)] + [points[3 * size :]]
    return [
        {
            "articles": [round(part[0][0] * 1000), round(part[-1][0] * 1000)],
            "floor_mb": round(min(mb for _, mb in part), 1),
            "median_mb": round(statistics.median(mb for _, mb in part), 1),
            "peak_mb": round(max(mb for _, mb in part), 1),
        }
        for part in parts
    ]


def run_memory(
    data: Path, *, total: int = 5_000, every: float = 3.0, distinct: int = 2_234
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="memory-"))
    receiver = WebhookReceiver().start()
    settings = Settings.from_env().isolated(
        f"memory-{run}",
        index_replicas=0,
        worker_data_dir=tmp / "worker",
        worker_web_port=free_port(),
        webhook_url=receiver.url,
    )
    setup_everything(settings)
    es = make_client(settings)
    samples: list[tuple[float, int, float]] = []
    started = time.monotonic()
    worker = None
    try:
        env = {**os.environ, **settings.as_env()}
        worker = localrun.start(["worker"], env=env, log=tmp / "worker.log", ready=b"Ready")
        samples.append((0.0, 0, rss_mb(worker.pid)))
        publishing = threading.Thread(
            target=publish, args=(settings, raw_articles(data, distinct), total, run)
        )
        publishing.start()
        deadline = started + total / 5 + 300  # 5 articles/s would be a broken worker
        while True:
            time.sleep(every)
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited; log {tmp / 'worker.log'}")
            indexed = int(es.count(index=settings.articles_alias)["count"])
            samples.append((time.monotonic() - started, indexed, rss_mb(worker.pid)))
            print(f"memory: {samples[-1]}", file=sys.stderr, flush=True)
            if indexed >= total or time.monotonic() > deadline:
                break
        publishing.join()
    finally:
        if worker is not None:
            localrun.stop(worker)
        es.close()
        receiver.stop()
        remove_everything(settings)
    seconds = samples[-1][0]
    return {
        "command": f"python bench/run.py --only memory --memory-articles {total}",
        "articles": total,
        "articles_indexed": samples[-1][1],
        "distinct_texts": min(distinct, total),
        "seconds": round(seconds),
        "articles_per_s": round(samples[-1][1] / seconds, 1),
        "sample_every_s": every,
        "webhook_requests": receiver.requests_seen,
        **summarise(samples, total),
        "samples": [[round(t, 1), n, round(mb, 1)] for t, n, mb in samples],
        "worker_log": str(tmp / "worker.log"),
    }


def publish(settings: Settings, articles: list[dict[str, str]], total: int, run: str) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=20)
    try:
        for article in repeated(articles, total, run):
            record = to_record(orjson.dumps(article))
            producer.send(settings.topic_raw, key=record.key, value=record.value)
        producer.flush()
    finally:
        producer.close()
