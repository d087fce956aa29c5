"""Scaling: one worker against two in one consumer group, the same backlog, one run; and
what that means for a cluster.

For each worker count, a fresh pipeline (bench/e2e.py ``pipeline``: topics of
``partitions`` partitions, indices and a consumer group of its own, the e2e workload's
alert rule and receiver) starts its workers and waits until the group is stable; then
``articles`` distinct articles (bench/corpus.py, one in five alerting) are published at
once and drained. Throughput is the slope of Elasticsearch's indexing count between 10 %
and 90 % of the articles (start-up and the tail left out). CPU
per process (workers, Kafka, Elasticsearch; /proc) and the machine's busy share are
taken over the drain.

Projection (``project``): a pod of one CPU runs one worker; the worker's cost per article
is its CPU seconds per article measured here alone (one worker: no neighbour skews it), so
a pod sustains ``1 / cpu_seconds_per_article`` × ``POD_UTILISATION`` articles/s (headroom
for rebalances, retries and bursts inside the peak). Pods = ceil(peak / that), with
peak = ``PEAK_FACTOR`` × the daily average. Kafka and Elasticsearch are sized separately;
their CPU per article here is reported so they can be. ``python bench/run.py --only
scaling``.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from bench.e2e import CpuSnapshot, Pipeline, Workload, cpu_between, pids_of, pipeline
from bench.sink import Progress
from streams.producers import to_record

PARTITIONS = 4
POLL_SECONDS = 0.5
PEAK_FACTOR = 10  # peak rate = 10 × the day's average
POD_UTILISATION = 0.7  # a pod is planned to run at 70 % of what it sustains flat out
DAILY = (1_000_000, 10_000_000)
SECONDS_PER_DAY = 86_400


def run_scaling(
    data: Path,
    *,
    articles: int = 3000,
    worker_counts: Sequence[int] = (1, 2),
    partitions: int = PARTITIONS,
) -> dict[str, Any]:
    workload = Workload.of(data, uuid.uuid4().hex[:8])
    runs = []
    for workers in worker_counts:
        with pipeline("scaling", workers=workers, partitions=partitions) as pipe:
            runs.append(drain(pipe, workload, articles))
        print(f"scaling: {runs[-1]}", file=sys.stderr, flush=True)
    alone = runs[0]
    return {
        "command": f"python bench/run.py --only scaling --scaling-articles {articles}",
        "articles": articles,
        "partitions": partitions,
        "runs": runs,
        "speed_up": {
            f"{r['workers']} vs {alone['workers']}": round(
                r["articles_per_s"] / alone["articles_per_s"], 2
            )
            for r in runs[1:]
        },
        "explanation": explain(runs, os.cpu_count() or 1),
        "projection": project(
            worker_cpu_s_per_article=alone["worker_cpu_s_per_article"],
            es_cpu_s_per_article=alone.get("elasticsearch_cpu_s_per_article"),
            kafka_cpu_s_per_article=alone.get("kafka_cpu_s_per_article"),
        ),
    }


def drain(pipe: Pipeline, workload: Workload, total: int) -> dict[str, Any]:
    """Publish ``total`` articles at once to running workers; time until all are indexed."""
    pids = pids_of(pipe)
    values = [to_record(orjson.dumps(workload.article(n))) for n in range(total)]
    alerting = sum(1 for n in range(total) if workload.alerts(n))
    start: list[CpuSnapshot] = []

    def publish() -> None:
        start.append(CpuSnapshot.take(pids))
        producer = KafkaProducer(
            bootstrap_servers=pipe.settings.kafka_bootstrap, acks="all", linger_ms=20
        )
        try:
            for record in values:
                producer.send(pipe.settings.topic_raw, key=record.key, value=record.value)
            producer.flush()
        finally:
            producer.close()

    progress = watch(pipe.es, pipe.settings.articles_alias, total, publish)
    if progress.samples[-1][1] < total:
        raise TimeoutError(f"{progress.samples[-1][1]} of {total} articles indexed")
    cpu = cpu_between(start[0], CpuSnapshot.take(pids))
    deadline = time.monotonic() + 60
    while len(pipe.arrivals) < alerting and time.monotonic() < deadline:
        time.sleep(0.5)
    seconds = cpu["seconds"]
    workers = {k: v for k, v in cpu["cores_busy"].items() if k.startswith("worker-")}
    worker_cpu = sum(workers.values()) * seconds
    result: dict[str, Any] = {
        "workers": len(pipe.workers),
        "articles_per_s": round(progress.rate(total), 1),
        "articles_per_s_first_to_last": round(progress.wall_rate(total), 1),
        "seconds": seconds,
        "cpu": cpu,
        "worker_cpu_s_per_article": round(worker_cpu / total, 4),
        "webhooks": f"{len(pipe.arrivals)} of {alerting}",
    }
    for name in ("elasticsearch", "kafka"):
        if name in cpu["cores_busy"]:
            used = cpu["cores_busy"][name] * seconds
            result[f"{name}_cpu_s_per_article"] = round(used / total, 4)
    return result


def explain(runs: Sequence[dict[str, Any]], cpus: int) -> str:
    """Why the second worker helped or not, from the CPU figures of the runs."""
    alone = runs[0]
    lines = []
    for run in runs:
        cores = run["cpu"]["cores_busy"]
        workers = sum(v for k, v in cores.items() if k.startswith("worker-"))
        lines.append(
            f"{run['workers']} worker(s): {run['articles_per_s']:g} articles/s, workers "
            f"{workers:.2f} cores, Elasticsearch {cores.get('elasticsearch', '?')}, Kafka "
            f"{cores.get('kafka', '?')}, machine {run['cpu']['machine_busy_share']:.0%} busy "
            f"of {cpus} cores"
        )
    spare = cpus * (1 - (alone["cpu"]["machine_busy_share"] or 0))
    if len(runs) > 1:
        gain = runs[1]["articles_per_s"] / alone["articles_per_s"]
        if spare < 0.5:
            why = (
                f"with one worker the machine had {spare:.1f} idle cores, so a second worker "
                f"could only share CPU with the first, Kafka, Elasticsearch and whatever else "
                f"ran (speed-up {gain:.2f}: any gain is CPU taken from other processes, not "
                f"capacity); per article a worker costs the same CPU either way, which is "
                f"what the projection uses"
            )
        else:
            why = (
                f"one worker left {spare:.1f} cores idle; the second used them (speed-up "
                f"{gain:.2f}): the worker is bound by its one Python thread (about one core), "
                f"so workers scale until the machine's cores are busy"
            )
        lines.append(why)
    return "; ".join(lines)


def project(
    *,
    worker_cpu_s_per_article: float,
    es_cpu_s_per_article: float | None = None,
    kafka_cpu_s_per_article: float | None = None,
    daily: Sequence[int] = DAILY,
    peak_factor: float = PEAK_FACTOR,
    utilisation: float = POD_UTILISATION,
) -> dict[str, Any]:
    """Pods of one CPU for each daily volume at its peak; the arithmetic is in the output."""
    flat_out = 1 / worker_cpu_s_per_article
    per_pod = flat_out * utilisation
    plans = []
    for per_day in daily:
        average = per_day / SECONDS_PER_DAY
        peak = average * peak_factor
        pods = max(1, math.ceil(peak / per_pod))
        plan: dict[str, Any] = {
            "articles_per_day": per_day,
            "average_per_s": round(average, 1),
            "peak_per_s": round(peak, 1),
            "pods": pods,
            "arithmetic": f"ceil({peak:.1f} / {per_pod:.1f}) = {pods} pods; topics need "
            f">= {pods} partitions (one consumer per partition)",
        }
        if es_cpu_s_per_article is not None:
            plan["elasticsearch_cores_at_peak"] = round(peak * es_cpu_s_per_article, 1)
        if kafka_cpu_s_per_article is not None:
            plan["kafka_cores_at_peak"] = round(peak * kafka_cpu_s_per_article, 1)
        plans.append(plan)
    return {
        "assumptions": (
            f"a pod = 1 CPU = one worker; cost per article = the lone worker's CPU seconds "
            f"per article here; planned at {utilisation:.0%} of flat out; peak = "
            f"{peak_factor:g} × the daily average; Kafka and Elasticsearch sized separately "
            f"(their cores at peak from their CPU per article here, same hardware)"
        ),
        "pod_flat_out_per_s": round(flat_out, 1),
        "pod_planned_per_s": round(per_pod, 1),
        "arithmetic": f"1 / {worker_cpu_s_per_article} CPU s per article = {flat_out:.1f}/s "
        f"flat out; × {utilisation} = {per_pod:.1f}/s per pod",
        "plans": plans,
    }


def watch(
    es: Elasticsearch, alias: str, total: int, publish: Callable[[], None], timeout: float = 1800
) -> Progress:
    """(seconds, documents indexed) every ``POLL_SECONDS`` while ``publish`` runs and after,
    until ``total`` or ``timeout``. Indexing counts need no refresh; polls are sparse (not
    bench/sink.py's 50 ms): here they would take Elasticsearch's CPU from the workers."""
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    publishing = threading.Thread(target=publish)
    publishing.start()
    while time.monotonic() - started < timeout:
        stats = es.indices.stats(index=alias, metric="indexing")
        indexed = int(stats["_all"]["primaries"]["indexing"]["index_total"])
        samples.append((time.monotonic() - started, indexed))
        if indexed >= total:
            break
        time.sleep(POLL_SECONDS)
    publishing.join()
    return Progress(samples)
