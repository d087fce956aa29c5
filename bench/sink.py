"""Sink ceiling: enriched articles Kafka → Elasticsearch through a real `newsstream worker`,
against the Elasticsearch client's own bulk helpers fed from memory, in one run.

Every measurement writes the same documents (enriched once, up front, from the samples
and BBC texts, then copied with distinct ids) into an index of its own
(``Settings.isolated``: template, alias and write index as the worker uses them):

- **worker**: the documents are published to an isolated ``articles.enriched`` topic
  first; then a worker starts with ``NEWSSTREAM_SINK_BATCH_SIZE`` (and
  ``NEWSSTREAM_SINK_BATCHES_IN_FLIGHT``) set, and its index stage (streams/worker/index.py,
  streams/elastic/bulk.py) drains the backlog. No alert rules: match-alerts still handles
  each record (it always does) but publishes nothing.
- **streaming_bulk** / **parallel_bulk** (``elasticsearch.helpers``) of the same
  documents, decoded, from memory, with orjson as the client's serializer: the ceiling.
- **plain consumer** (a reference): the topic drained by a bare aiokafka consumer into
  ``streams.elastic.bulk_index``, without Faust, validation or match-alerts: what is left
  of the ceiling once Kafka is read on the same two cores.

Throughput is read the same way for all: the write index's ``indexing.index_total`` is
polled every 50 ms, and docs/s is the slope between 10 % and 90 % of the documents
(start-up and the last partial batch left out). ``python bench/run.py --only sink``;
``--profile`` runs one more worker under cProfile and keeps its top functions.
"""

from __future__ import annotations

import asyncio
import io
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from elasticsearch import Elasticsearch, helpers
from elasticsearch.serializer import OrjsonSerializer
from kafka import KafkaProducer

from bench.corpus import ROOT, copies, documents, enrich, raw_articles
from bench.latency import free_port
from streams.elastic import bulk_index, make_async_client, make_client
from streams.messages import EnrichedArticle, dumps
from streams.settings import Settings
from streams.setup import remove_everything, setup_everything

BATCH_SIZES = (100, 500, 2000)
POLL_SECONDS = 0.05
TIMEOUT = 600.0


@dataclass(frozen=True)
class Progress:
    """(seconds, documents indexed) samples of one write index."""

    samples: list[tuple[float, int]]

    def rate(self, total: int, low: float = 0.1, high: float = 0.9) -> float:
        """Docs/s between the moments ``low`` and ``high`` of ``total`` were indexed."""
        start, end = self._crossing(low * total), self._crossing(high * total)
        return (end[1] - start[1]) / (end[0] - start[0])

    def wall_rate(self, total: int) -> float:
        """Docs/s from the first document seen to the last."""
        first = next(t for t, n in self.samples if n > 0)
        return total / (self._crossing(total)[0] - first)

    def figures(self, total: int) -> dict[str, int]:
        """Docs/s both ways, as every run of this bench reports them."""
        return {
            "docs_per_s": round(self.rate(total)),
            "docs_per_s_first_to_last": round(self.wall_rate(total)),
        }

    def _crossing(self, count: float) -> tuple[float, int]:
        return next((t, n) for t, n in self.samples if n >= count)


def watch(es: Elasticsearch, alias: str, total: int, run: Callable[[], None]) -> Progress:
    """Run ``run`` while sampling how many documents the alias's index has taken, until
    ``total``. Indexing counts are per operation and need no refresh."""
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not done.is_set():
            stats = es.indices.stats(index=alias, metric="indexing")
            indexed = int(stats["_all"]["primaries"]["indexing"]["index_total"])
            samples.append((time.monotonic() - started, indexed))
            if indexed >= total or time.monotonic() - started > TIMEOUT:
                return
            time.sleep(POLL_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run()
        sampler.join(TIMEOUT)
    finally:
        done.set()
    if not samples or samples[-1][1] < total:
        raise TimeoutError(f"{alias}: {samples[-1][1] if samples else 0} of {total} indexed")
    return Progress(samples)


def bulk_actions(index: str, docs: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        yield {"_index": index, "_id": doc["id"], "_source": doc}


def ceiling_client(settings: Settings) -> Elasticsearch:
    """The local stack's Elasticsearch with the fastest serializer the client offers: a
    ceiling should not pay for stdlib json."""
    auth = (settings.es_username, str(settings.es_password)) if settings.es_username else None
    return Elasticsearch(
        settings.es_url,
        basic_auth=auth,
        request_timeout=settings.es_timeout,
        serializer=OrjsonSerializer(),
    )


def run_streaming_bulk(
    base: Settings, docs: Sequence[dict[str, Any]], *, chunk: int, max_bytes: int
) -> dict[str, Any]:
    helper = partial(helpers.streaming_bulk, chunk_size=chunk, max_chunk_bytes=max_bytes)
    result = _from_memory(base, docs, helper)
    return {"kind": "streaming_bulk", "batch": chunk, "max_chunk_mb": max_bytes >> 20, **result}


def run_parallel_bulk(
    base: Settings, docs: Sequence[dict[str, Any]], *, chunk: int, threads: int
) -> dict[str, Any]:
    helper = partial(
        helpers.parallel_bulk, chunk_size=chunk, thread_count=threads, queue_size=threads
    )
    result = _from_memory(base, docs, helper)
    return {"kind": "parallel_bulk", "batch": chunk, "threads": threads, **result}


def _from_memory(
    base: Settings,
    docs: Sequence[dict[str, Any]],
    helper: Callable[..., Iterable[tuple[bool, Any]]],
) -> dict[str, Any]:
    """``docs`` into an index of their own through a bulk helper of the client."""
    settings = base.isolated(f"sink-{uuid.uuid4().hex[:8]}")
    setup_everything(settings)
    es = ceiling_client(settings)

    def index() -> None:
        actions = bulk_actions(settings.articles_alias, docs)
        for ok, item in helper(es, actions, raise_on_error=False):
            if not ok:
                raise RuntimeError(f"the bulk helper refused a document: {item}")

    try:
        started = time.perf_counter()
        progress = watch(es, settings.articles_alias, len(docs), index)
        seconds = time.perf_counter() - started
    finally:
        es.close()
        remove_everything(settings)
    return {
        **progress.figures(len(docs)),
        "docs_per_s_call": round(len(docs) / seconds),
    }


def run_worker(
    base: Settings,
    values: Sequence[bytes],
    keys: Sequence[bytes],
    *,
    batch: int,
    batch_seconds: float,
    workers: int = 1,
    profile_to: Path | None = None,
    index_only: bool = False,
    in_flight: int = Settings().sink_batches_in_flight,
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="sink-"))
    rules = tmp / "rules.yaml"
    rules.write_text("version: 1\nrules: []\n")
    settings = base.isolated(
        f"sink-{uuid.uuid4().hex[:8]}",
        worker_data_dir=tmp / "worker",
        worker_web_port=free_port(),
        sink_batch_size=batch,
        sink_batch_seconds=batch_seconds,
        sink_batches_in_flight=in_flight,
        rules_path=rules,
    )
    setup_everything(settings)
    es = make_client(settings)
    processes: list[subprocess.Popen[bytes]] = []
    started_cpu: dict[subprocess.Popen[bytes], float] = {}
    ready_at = [0.0]
    try:
        publish(settings, keys, values)

        def start_workers() -> None:
            for n in range(workers):
                own = settings.replace(
                    worker_web_port=free_port(), worker_data_dir=tmp / f"worker-{n}"
                )
                log = tmp / f"worker-{n}.log"
                processes.append(start_worker(own, log, profile_to, index_only=index_only))
                started_cpu[processes[-1]] = cpu_seconds(processes[-1].pid)
            ready_at[0] = time.monotonic()

        progress = watch(es, settings.articles_alias, len(values), start_workers)
        # CPU the workers used while draining the backlog, per document and as a share of
        # one core: near 1.0 means the worker's one event loop is what limits the sink.
        cpu = sum(cpu_seconds(process.pid) - used for process, used in started_cpu.items())
        busy = time.monotonic() - ready_at[0]
    finally:
        for process in processes:
            stop_worker(process)
        es.close()
        remove_everything(settings)
    kind = "worker" if workers == 1 else f"{workers} workers"
    return {
        "kind": f"{kind}, index agent alone (diagnostic)" if index_only else kind,
        "batch": batch,
        "batch_seconds": batch_seconds,
        "in_flight": in_flight,
        **progress.figures(len(values)),
        "worker_cpu_ms_per_doc": round(cpu / len(values) * 1000, 3),
        "worker_cpu_cores_busy": round(cpu / busy, 2),
        "logs": str(tmp),
    }


def run_plain_consumer(
    base: Settings, values: Sequence[bytes], keys: Sequence[bytes], *, batch: int
) -> dict[str, Any]:
    """The same backlog through newsstream's own bulk call (``streams.elastic.bulk_index``)
    fed by a bare aiokafka consumer (``getmany``, commit after each bulk), no Faust, no
    validation, no match-alerts: what reading Kafka itself costs on this machine, a
    reference between the worker and the from-memory ceiling, not a configuration."""
    settings = base.isolated(f"sink-{uuid.uuid4().hex[:8]}")
    setup_everything(settings)
    es = make_client(settings)
    cpu_before = time.process_time()
    try:
        publish(settings, keys, values)
        progress = watch(
            es,
            settings.articles_alias,
            len(values),
            lambda: asyncio.run(_drain(settings, total=len(values), batch=batch)),
        )
        cpu = time.process_time() - cpu_before
    finally:
        es.close()
        remove_everything(settings)
    return {
        "kind": "aiokafka getmany + bulk_index (reference)",
        "batch": batch,
        **progress.figures(len(values)),
        "cpu_ms_per_doc_incl_publish": round(cpu / len(values) * 1000, 3),
    }


async def _drain(settings: Settings, *, total: int, batch: int) -> None:
    consumer = AIOKafkaConsumer(
        settings.topic_enriched,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.app_id}-plain",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=settings.kafka_fetch_bytes,
    )
    es = make_async_client(settings)
    await consumer.start()
    try:
        done = 0
        while done < total:
            records = await consumer.getmany(timeout_ms=1000, max_records=batch)
            docs = [(r.key.decode(), r.value) for part in records.values() for r in part]
            if docs:
                outcome = await bulk_index(es, settings.articles_alias, docs)
                if outcome.retryable or outcome.rejected:
                    raise RuntimeError(f"bulk refused documents: {outcome}")
                await consumer.commit()
                done += len(docs)
    finally:
        await consumer.stop()
        await es.close()


def publish(settings: Settings, keys: Sequence[bytes], values: Sequence[bytes]) -> None:
    """The documents onto the enriched topic, as the enrich stage would have put them."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=1 << 20,
        max_request_size=8 << 20,
    )
    try:
        for key, value in zip(keys, values, strict=True):
            producer.send(settings.topic_enriched, key=key, value=value)
        producer.flush()
    finally:
        producer.close()


# A diagnostic, not a configuration: the worker without its match-alerts stage, to show
# what the index path alone could do (the stage handles every enriched record too).
INDEX_ONLY = """
import sys
import streams.worker.app as app
add_agent = app.add_agent
def without_alerts(*args, runners, **kwargs):
    add_agent(*args, runners=[r for r in runners if r.stage.name != "match-alerts"], **kwargs)
app.add_agent = without_alerts
from streams.cli import main
sys.exit(main(["worker"]))
"""


def start_worker(
    settings: Settings, log: Path, profile_to: Path | None, *, index_only: bool = False
) -> subprocess.Popen[bytes]:
    """`newsstream worker` in a session of its own; returns once it is consuming."""
    profiler = ["-m", "cProfile", "-o", str(profile_to)] if profile_to else []
    command = ["-c", INDEX_ONLY] if index_only else ["-m", "streams.cli", "worker"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *profiler, *command],
            env={**os.environ, **settings.as_env()},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
    deadline = time.monotonic() + 240
    while b"Ready" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"worker did not start; log {log}")
        time.sleep(0.2)
    return process


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far, all its threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def top_functions(path: Path, limit: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def run_sink(
    data: Path,
    *,
    distinct: int = 400,
    total: int = 20_000,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    with_profile: bool = False,
    articles: list[EnrichedArticle] | None = None,
) -> dict[str, Any]:
    base = Settings.from_env().replace(index_replicas=0)
    enriched = articles or enrich(raw_articles(data, distinct)).articles
    copied = copies(enriched, total)
    values = [dumps(article) for article in copied]
    keys = [article.id.encode() for article in copied]
    docs = documents(copied)
    default = Settings()
    window = default.sink_batch_seconds
    results: list[dict[str, Any]] = []

    def note(result: dict[str, Any]) -> None:
        results.append(result)
        print(f"sink: {result}", file=sys.stderr, flush=True)

    for batch in batch_sizes:
        note(run_worker(base, values, keys, batch=batch, batch_seconds=window))
        note(run_streaming_bulk(base, docs, chunk=batch, max_bytes=100 << 20))
        note(run_parallel_bulk(base, docs, chunk=batch, threads=2))
    # Bytes and concurrency at the default batch size.
    batch = default.sink_batch_size
    note(run_streaming_bulk(base, docs, chunk=batch, max_bytes=1 << 20))
    note(run_parallel_bulk(base, docs, chunk=batch, threads=4))
    for in_flight in (1, 4):  # bulk requests at once (the default is 2)
        note(run_worker(base, values, keys, batch=batch, batch_seconds=window, in_flight=in_flight))
    note(run_worker(base, values, keys, batch=batch, batch_seconds=window, workers=2))
    note(run_worker(base, values, keys, batch=batch, batch_seconds=window, index_only=True))
    note(run_plain_consumer(base, values, keys, batch=batch))
    outcome: dict[str, Any] = {
        "command": "python bench/run.py --only sink",
        "documents": total,
        "distinct_articles": len(enriched),
        "mean_document_bytes": round(sum(map(len, values)) / len(values)),
        "runs": results,
        **verdict(results, default),
    }
    if with_profile:
        path = Path(tempfile.mkdtemp(prefix="sink-profile-")) / "worker.prof"
        run_worker(base, values, keys, batch=batch, batch_seconds=window, profile_to=path)
        outcome["profile"] = top_functions(path)
    return outcome


def verdict(results: Sequence[dict[str, Any]], default: Settings) -> dict[str, Any]:
    """The worker at its default settings and at its best, against the best from memory."""
    ceiling = max(
        (r for r in results if r["kind"] in ("streaming_bulk", "parallel_bulk")),
        key=lambda r: r["docs_per_s"],
    )
    workers = [r for r in results if r["kind"] == "worker"]  # as deployed: no diagnostics
    best = max(workers, key=lambda r: r["docs_per_s"])
    as_set = (default.sink_batch_size, default.sink_batches_in_flight)
    at_defaults = next(r for r in workers if (r["batch"], r["in_flight"]) == as_set)
    return {
        "ceiling": {k: v for k, v in ceiling.items() if k != "logs"},
        "worker_default_docs_per_s": at_defaults["docs_per_s"],
        "worker_best": {k: v for k, v in best.items() if k != "logs"},
        "worker_default_share_of_ceiling": round(
            at_defaults["docs_per_s"] / ceiling["docs_per_s"], 3
        ),
        "worker_best_share_of_ceiling": round(best["docs_per_s"] / ceiling["docs_per_s"], 3),
    }
