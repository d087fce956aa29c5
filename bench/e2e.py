"""End to end on the local stack: produce → searchable and produce → webhook at steady
rates, and the highest rate the whole pipeline sustains.

One `newsstream worker` (default settings) runs on topics and indices of its own
(``Settings.isolated``) beside Kafka and Elasticsearch on this machine. Articles are the
samples and BBC texts, made distinct (bench/corpus.py ``distinct``: no near-duplicates, so
every article costs a full pass and every marked one alerts); one in ``ALERT_EVERY`` has
the word ``ALERT_WORD`` in its title, which the only alert rule matches, and a receiver
on loopback notes when each alert arrives.

A **phase** publishes at ``rate`` per second for ``warmup`` + ``seconds``; only articles
sent after the warm-up are timed:

- **produce → searchable**: from the send to the first search that finds the id (an
  ``ids`` query for the oldest 1,000 not yet found, every ``PROBE_SECONDS``: the figure
  includes the index's 1 s refresh and is late by at most one probe interval).
- **produce → webhook**: from the send to the receiver's arrival of the alert.
- **consumer lag**: every ``SAMPLE_SECONDS``, the end offsets of the worker's input
  topics (raw, enriched, alerts) minus the group's committed offsets, summed.
- **kept up**: the least-squares slope of that lag over the measured window is at most
  ``KEEP_UP_SHARE`` of the rate (lag that grows by under 5 % of the input is commit
  saw-tooth and noise; a worker short of capacity grows it by rate − capacity), and the
  phase was not stopped early because the backlog (sent − searchable) passed
  ``GIVE_UP_SECONDS`` of input.

``run_e2e`` steps up through ``rates`` until a phase falls behind (its searchable rate is
the capacity estimate), then looks for the highest rate held for ``sustain_seconds``:
from max(best rate kept up, ``SUSTAIN_MARGIN`` × capacity), stepping down by
``SUSTAIN_STEP`` after each failed attempt. ``python bench/run.py --only e2e``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from bench.corpus import ROOT, distinct_article, raw_articles
from bench.latency import free_port, percentile
from bench.memory import slope
from streams.devtools import Received, WebhookReceiver, localrun
from streams.elastic import make_client
from streams.producers import to_record
from streams.settings import Settings
from streams.setup import remove_everything, setup_everything

ALERT_WORD = "benchalert"  # made up: only the articles meant to alert contain it
ALERT_EVERY = 5  # one article in five alerts
PROBE_SECONDS = 0.25
PROBE_BATCH = 1000
SAMPLE_SECONDS = 1.0
KEEP_UP_SHARE = 0.05
GIVE_UP_SECONDS = 30.0  # a backlog of this many seconds of input: fallen behind, stop
SUSTAIN_MARGIN = 0.9
SUSTAIN_STEP = 0.85
RATES = (5.0, 20.0, 50.0, 75.0, 100.0, 150.0, 200.0)


def rules_text(word: str = ALERT_WORD) -> str:
    # No throttle: every marked article must produce its own webhook to be timed.
    return (
        "version: 1\nrules:\n  - id: bench\n    name: Bench\n"
        f"    query: {{keywords: [{word}]}}\n    throttle: none\n"
    )


# -- the pipeline under test ------------------------------------------------------------


@dataclass
class Pipeline:
    """Workers on isolated topics and indices, a webhook receiver and the probes' clients."""

    settings: Settings
    receiver: WebhookReceiver
    es: Elasticsearch
    workers: list[Any]  # subprocess.Popen[bytes]
    logs: Path
    arrivals: dict[str, float] = field(default_factory=dict)  # article id → webhook time

    def note(self, item: Received) -> None:
        now = time.time()
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self.arrivals.setdefault(str(orjson.loads(item.body)["article"]["id"]), now)

    def searchable_count(self) -> int:
        return int(self.es.count(index=self.settings.articles_alias)["count"])

    def found(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` a search sees now (no source fetched: a light probe)."""
        response = self.es.search(
            index=self.settings.articles_alias,
            query={"ids": {"values": list(ids)}},
            size=len(ids),
            source=False,
        )
        return {hit["_id"] for hit in response["hits"]["hits"]}


@contextlib.contextmanager
def pipeline(
    name: str, *, workers: int = 1, partitions: int | None = None, **overrides: Any
) -> Iterator[Pipeline]:
    """``workers`` workers in one consumer group, running once this yields; all gone after."""
    run = f"{name}-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    rules = tmp / "rules.yaml"
    rules.write_text(rules_text())
    receiver = WebhookReceiver()
    base = Settings.from_env()
    settings = base.isolated(
        run,
        index_replicas=0,
        topic_partitions=partitions or base.topic_partitions,
        rules_path=rules,
        **overrides,
    )
    pipe = Pipeline(settings, receiver, make_client(settings), [], tmp)
    receiver.echo = pipe.note
    receiver.start()
    pipe.settings = settings = settings.replace(webhook_url=receiver.url)
    try:
        setup_everything(settings)
        for n in range(workers):
            own = settings.replace(worker_web_port=free_port(), worker_data_dir=tmp / f"w{n}")
            env = {**os.environ, **own.as_env()}
            log = tmp / f"worker-{n}.log"
            pipe.workers.append(localrun.start(["worker"], env=env, log=log, ready=b"Ready"))
        wait_for_group(settings, workers)
        yield pipe
    finally:
        for process in pipe.workers:
            localrun.stop(process)
        pipe.es.close()
        receiver.stop()
        remove_everything(settings)
        forget_group(settings)


def wait_for_group(settings: Settings, members: int, timeout: float = 120) -> None:
    """Until the consumer group is stable with ``members`` members: a measurement must not
    start in the middle of a rebalance."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    deadline = time.monotonic() + timeout
    try:
        while True:
            group = admin.describe_groups([settings.app_id])[settings.app_id]
            if group["group_state"] == "Stable" and len(group["members"]) == members:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {settings.app_id} not stable with {members}: {group}")
            time.sleep(0.5)
    finally:
        admin.close()


def forget_group(settings: Settings) -> None:
    """Delete the run's consumer group and Faust's leader topic (remove_everything leaves
    them: they are not pipeline topics)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        with contextlib.suppress(Exception):
            admin.delete_groups([settings.app_id])
        leader = f"{settings.app_id}-__assignor-__leader"
        if leader in set(admin.list_topics()):
            admin.delete_topics([leader])
    finally:
        admin.close()


class LagMeter:
    """Consumer lag of the worker group: end offsets minus committed, per input topic."""

    def __init__(self, settings: Settings) -> None:
        self.group = settings.app_id
        self.topics = (settings.topic_raw, settings.topic_enriched, settings.topic_alerts)
        self.admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
        self.partitions = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in sorted(self.consumer.partitions_for_topic(topic) or ())
        ]

    def lag(self) -> dict[str, int]:
        committed = self.admin.list_group_offsets({self.group: None}).get(self.group, {})
        ends = self.consumer.end_offsets(self.partitions)
        per_topic = dict.fromkeys(self.topics, 0)
        for partition, end in ends.items():
            done = committed.get(partition)
            per_topic[partition.topic] += end - max(0, done.offset if done else 0)
        return per_topic

    def close(self) -> None:
        self.consumer.close()
        self.admin.close()


# -- CPU accounting (also used by bench/scaling.py) -------------------------------------


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


def stack_pids() -> dict[str, int]:
    """The local stack's Kafka and Elasticsearch (deploy/local/stack.sh's pid files)."""
    stack = Path(os.environ.get("NEWSSTREAM_STACK_DIR", ROOT / ".stack"))
    pids = {}
    for name, path in (("kafka", "kafka/kafka.pid"), ("elasticsearch", "elasticsearch/es.pid")):
        with contextlib.suppress(OSError, ValueError):
            pid = int((stack / path).read_text().strip())
            process_cpu(pid)
            pids[name] = pid
    return pids


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    processes: dict[str, float]  # name → CPU seconds so far
    machine: tuple[float, float]

    @classmethod
    def take(cls, pids: dict[str, int]) -> CpuSnapshot:
        used = {}
        for name, pid in pids.items():
            with contextlib.suppress(OSError):
                used[name] = process_cpu(pid)
        return cls(time.monotonic(), used, machine_cpu())


def cpu_between(start: CpuSnapshot, end: CpuSnapshot) -> dict[str, Any]:
    """Cores each process kept busy between two snapshots, and the machine's busy share."""
    seconds = end.at - start.at
    cores = {
        name: round((end.processes[name] - used) / seconds, 2)
        for name, used in start.processes.items()
        if name in end.processes
    }
    busy = end.machine[0] - start.machine[0]
    total = end.machine[1] - start.machine[1]
    return {
        "seconds": round(seconds, 1),
        "cores_busy": cores,
        "machine_busy_share": round(busy / total, 2) if total else None,
    }


def pids_of(pipe: Pipeline) -> dict[str, int]:
    return {**{f"worker-{n}": p.pid for n, p in enumerate(pipe.workers)}, **stack_pids()}


# -- one phase at a steady rate ---------------------------------------------------------


@dataclass
class Phase:
    """What one phase saw; the threads append, the summary reads after they stopped."""

    sent_at: dict[str, float] = field(default_factory=dict)  # timed article id → send time
    order: list[str] = field(default_factory=list)  # timed ids in send order
    alerting: set[str] = field(default_factory=set)
    searchable_at: dict[str, float] = field(default_factory=dict)
    sent_total: int = 0
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)  # t, sent, found, lag
    window: tuple[float, float] = (0.0, 0.0)  # monotonic start and end of the timed sends
    gave_up: bool = False


def run_phase(
    pipe: Pipeline,
    *,
    rate: float,
    seconds: float,
    warmup: float,
    article: Callable[[int], dict[str, str]],
    alerts: Callable[[int], bool],
    drain_seconds: float = 120.0,
    give_up_seconds: float | None = GIVE_UP_SECONDS,
) -> dict[str, Any]:
    phase = Phase()
    stop = threading.Event()
    meter = LagMeter(pipe.settings)
    base_found = pipe.searchable_count()
    started = time.monotonic()

    def sample() -> None:
        while not stop.is_set():
            found = pipe.searchable_count() - base_found
            lag = sum(meter.lag().values())
            phase.samples.append((time.monotonic() - started, phase.sent_total, found, lag))
            backlog = phase.sent_total - found
            if give_up_seconds is not None and backlog > rate * give_up_seconds:
                phase.gave_up = True
            stop.wait(SAMPLE_SECONDS)

    def probe() -> None:
        first = 0  # every timed id before this one was found
        while not stop.wait(PROBE_SECONDS):
            asked_at = time.time()
            order = phase.order[:]
            while first < len(order) and order[first] in phase.searchable_at:
                first += 1
            pending = [i for i in order[first:] if i not in phase.searchable_at]
            for doc_id in pipe.found(pending[:PROBE_BATCH]) if pending else ():
                phase.searchable_at.setdefault(doc_id, asked_at)

    threads = [threading.Thread(target=f, daemon=True) for f in (sample, probe)]
    for thread in threads:
        thread.start()
    producer = KafkaProducer(
        bootstrap_servers=pipe.settings.kafka_bootstrap, acks="all", linger_ms=5
    )
    skipped = int(rate * warmup)
    pids = pids_of(pipe)
    cpu_start: CpuSnapshot | None = None
    cpu: dict[str, Any] = {}
    total = skipped + int(rate * seconds)
    try:
        clock = time.monotonic()
        for n in range(total):
            if phase.gave_up:
                break
            time.sleep(max(0.0, clock + n / rate - time.monotonic()))
            record = to_record(orjson.dumps(article(n)))
            if n == skipped:
                phase.window = (time.monotonic(), 0.0)
                cpu_start = CpuSnapshot.take(pids)
            sent = time.time()
            producer.send(pipe.settings.topic_raw, key=record.key, value=record.value)
            phase.sent_total += 1
            if n >= skipped:
                doc_id = record.key.decode()
                phase.sent_at[doc_id] = sent
                phase.order.append(doc_id)
                if alerts(n):
                    phase.alerting.add(doc_id)
        producer.flush()
        # A phase given up during its warm-up timed nothing: its window is all of it.
        phase.window = (phase.window[0] or started, time.monotonic())
        cpu = cpu_between(cpu_start, CpuSnapshot.take(pids)) if cpu_start else {}
        deadline = time.monotonic() + (0 if phase.gave_up else drain_seconds)
        while time.monotonic() < deadline and not (
            len(phase.searchable_at) >= len(phase.sent_at) and phase.alerting <= set(pipe.arrivals)
        ):
            time.sleep(0.5)
    finally:
        producer.close()
        stop.set()
        for thread in threads:
            thread.join(30)
        meter.close()
    result = summarise(phase, rate=rate, seconds=seconds, warmup=warmup, started=started, pipe=pipe)
    return {**result, "sent_total": phase.sent_total, "cpu_in_window": cpu}


def summarise(
    phase: Phase, *, rate: float, seconds: float, warmup: float, started: float, pipe: Pipeline
) -> dict[str, Any]:
    start, end = (t - started for t in phase.window)
    in_window = [s for s in phase.samples if start <= s[0] <= end]
    lag_growth = slope([(t, lag) for t, _, _, lag in in_window])
    backlog_growth = slope([(t, sent - found) for t, sent, found, _ in in_window])
    searchable_rate = slope([(t, found) for t, _, found, _ in in_window])
    kept_up = not phase.gave_up and lag_growth is not None and lag_growth <= KEEP_UP_SHARE * rate
    searchable = [phase.searchable_at[i] - phase.sent_at[i] for i in phase.searchable_at]
    webhook = [pipe.arrivals[i] - phase.sent_at[i] for i in phase.alerting if i in pipe.arrivals]
    last = phase.samples[-1] if phase.samples else (0.0, 0, 0, 0)
    at_end = min(phase.samples, key=lambda s: abs(s[0] - end)) if phase.samples else last
    return {
        "rate_per_s": rate,
        "seconds": seconds if not phase.gave_up else round(end - start, 1),
        "warmup_seconds_not_counted": warmup,
        "timed_articles": len(phase.sent_at),
        "kept_up": kept_up,
        "gave_up_early": phase.gave_up,
        "searchable_per_s_in_window": _round(searchable_rate, 1),
        "lag_growth_per_s": _round(lag_growth, 2),
        "backlog_growth_per_s": _round(backlog_growth, 2),
        "lag_at_window_end": at_end[3],
        "backlog_at_window_end": at_end[1] - at_end[2],
        "produce_to_searchable": latencies(searchable, len(phase.sent_at)),
        "produce_to_webhook": latencies(webhook, len(phase.alerting)),
        "samples_columns": "seconds from the phase's start, sent, searchable, consumer lag",
        # One string per sample: a 5-minute run stays readable in the JSON.
        "samples": [f"{t:.1f} {s} {f} {lag}" for t, s, f, lag in phase.samples],
        "window_s": [round(start, 1), round(end, 1)],
    }


def latencies(values: list[float], expected: int) -> dict[str, Any]:
    if not values:
        return {"count": 0, "expected": expected}
    return {
        "count": len(values),
        "expected": expected,
        "p50_s": round(percentile(values, 50), 3),
        "p90_s": round(percentile(values, 90), 3),
        "p95_s": round(percentile(values, 95), 3),
        "p99_s": round(percentile(values, 99), 3),
        "max_s": round(max(values), 3),
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# -- the rate search --------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Distinct articles (bench/corpus.py); every ``alert_every``-th carries the alert word."""

    texts: list[dict[str, str]]
    run: str
    alert_every: int = ALERT_EVERY

    @classmethod
    def of(cls, data: Path, run: str, alert_every: int = ALERT_EVERY) -> Workload:
        texts = [a for a in raw_articles(data, 100_000) if a.get("text")]
        return cls(texts, run, alert_every)

    def alerts(self, n: int) -> bool:
        return n % self.alert_every == 0

    def article(self, n: int) -> dict[str, str]:
        article = distinct_article(self.texts, n, self.run)
        if self.alerts(n):
            return {**article, "title": f"{ALERT_WORD}: {article['title']}"}
        return article


def sustain_start(phases: Sequence[dict[str, Any]], margin: float = SUSTAIN_MARGIN) -> float:
    """Where the 5-minute search starts: the best rate kept up, or ``margin`` × the capacity
    a phase that fell behind showed (its searchable rate), whichever is higher, never above
    that capacity."""
    kept = [p["rate_per_s"] for p in phases if p["kept_up"]]
    behind = [p for p in phases if not p["kept_up"]]
    best = max(kept, default=0.0)
    if not behind:
        return best
    capacity = behind[0]["searchable_per_s_in_window"] or best
    return round(min(capacity, max(best, margin * capacity)), 1)


def run_e2e(
    data: Path,
    *,
    rates: Sequence[float] = RATES,
    seconds: float = 60.0,
    warmup: float = 15.0,
    sustain_seconds: float = 300.0,
    sustain_attempts: int = 3,
    drain_seconds: float = 120.0,
) -> dict[str, Any]:
    workload = Workload.of(data, uuid.uuid4().hex[:8])
    numbered = [0]  # article numbers go on across phases: every id is new

    def phase(pipe: Pipeline, rate: float, length: float) -> dict[str, Any]:
        first = numbered[0]
        result = run_phase(
            pipe,
            rate=rate,
            seconds=length,
            warmup=warmup,
            article=lambda n: workload.article(first + n),
            alerts=lambda n: workload.alerts(first + n),
            drain_seconds=drain_seconds,
        )
        numbered[0] += result["sent_total"]
        print(f"e2e: {brief(result)}", file=sys.stderr, flush=True)
        return result

    steps: list[dict[str, Any]] = []
    with pipeline("e2e") as pipe:
        settings = pipe.settings
        for rate in rates:
            steps.append(phase(pipe, rate, seconds))
            if not steps[-1]["kept_up"]:
                break
    attempts: list[dict[str, Any]] = []
    rate = sustain_start(steps)
    for _ in range(sustain_attempts if sustain_seconds > 0 and rate > 0 else 0):
        with pipeline("e2e-sustain") as pipe:  # a fresh worker: no backlog left over
            attempts.append(phase(pipe, rate, sustain_seconds))
        if attempts[-1]["kept_up"]:
            break
        rate = round(rate * SUSTAIN_STEP, 1)
    sustained = next((a["rate_per_s"] for a in attempts if a["kept_up"]), None)
    return {
        "command": "python bench/run.py --only e2e",
        "workload": {
            "articles": "samples + BBC texts, halves of two texts each: no near-duplicates",
            "alerting_share": 1 / workload.alert_every,
            "rules": f"one keyword rule ({ALERT_WORD}), no throttle",
            "worker_settings": {
                "enrich_batch_size": settings.enrich_batch_size,
                "enrich_batch_seconds": settings.enrich_batch_seconds,
                "sink_batch_size": settings.sink_batch_size,
                "sink_batch_seconds": settings.sink_batch_seconds,
                "topic_partitions": settings.topic_partitions,
            },
        },
        "definitions": {
            "produce_to_searchable": (
                "send → first ids search that finds the document; probe every "
                f"{PROBE_SECONDS} s (late by at most that), includes the 1 s refresh (the "
                "probe's searches keep the index search-active, so refreshes run on time)"
            ),
            "produce_to_webhook": "send → the receiver's arrival of the article's alert",
            "consumer_lag": "end offsets − committed offsets of the worker group, summed "
            "over raw, enriched and alerts topics, sampled every 1 s",
            "kept_up": f"least-squares slope of consumer lag over the timed window ≤ "
            f"{KEEP_UP_SHARE:.0%} of the rate, and the backlog (sent − searchable) never "
            f"above {GIVE_UP_SECONDS:g} s of input",
            "sustain_search": f"start at max(best rate kept up, {SUSTAIN_MARGIN} × the "
            "searchable rate of the first phase that fell behind), at most that rate; "
            f"× {SUSTAIN_STEP} after each failed attempt, {sustain_attempts} attempts",
        },
        "steps": steps,
        "highest_step_kept_up_per_s": max(
            (p["rate_per_s"] for p in steps if p["kept_up"]), default=None
        ),
        "capacity_estimate_per_s": next(
            (p["searchable_per_s_in_window"] for p in steps if not p["kept_up"]), None
        ),
        "sustain_seconds": sustain_seconds,
        "sustain_attempts": attempts,
        "sustained_rate_per_s": sustained,
    }


def brief(result: dict[str, Any]) -> dict[str, Any]:
    """A phase without its samples, for progress lines."""
    return {k: v for k, v in result.items() if not k.startswith("samples")}
