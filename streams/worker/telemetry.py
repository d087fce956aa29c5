"""What the worker tells Prometheus and its probes: counters, histograms and stage health.

The runner reports every step of every stage here (``StageTelemetry``); the web pages
(web.py) read it. A registry of its own per app, not prometheus-client's global one, so
tests and benchmarks can build several apps in one process.

Liveness is about stages that stopped moving, not about idle ones: a stage is stuck when
one step (a handle call, a dead letter) has taken longer than the limit. Waiting out
Kafka or Elasticsearch is progress: each backoff sleep is a step, at most
``RetryPolicy.max_delay`` long, so an outage makes the worker not ready, never dead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.errors import TransientError

# Seconds: from a few milliseconds (a bulk of one) to minutes (waiting out an outage).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


class Metrics:
    """The worker's Prometheus metrics, in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry(auto_describe=True)
        by_stage, by_cause = ["stage"], ["stage", "cause"]
        self.consumed = Counter(
            "newsstream_records_consumed", "Records read, by stage.", by_stage, registry=r
        )
        self.done = Counter(
            "newsstream_records_done", "Records a stage finished, by stage.", by_stage, registry=r
        )
        self.dead_lettered = Counter(
            "newsstream_records_dead_lettered",
            "Records sent to a dead-letter topic, by stage and reason (the error type).",
            ["stage", "reason"],
            registry=r,
        )
        self.retries = Counter(
            "newsstream_retries",
            "Records handled again after a transient error, by stage and cause.",
            by_cause,
            registry=r,
        )
        self.backoff = Counter(
            "newsstream_backoff_seconds",
            "Seconds spent waiting before a retry, by stage and cause.",
            by_cause,
            registry=r,
        )
        self.stage_latency = Histogram(
            "newsstream_stage_duration_seconds",
            "Time to handle one batch, by stage.",
            by_stage,
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._add_sink_metrics(r)
        self.alerts = Counter(
            "newsstream_alerts", "Alert records written, by status.", ["status"], registry=r
        )
        self.dlq_limit_exceeded = Gauge(
            "newsstream_dlq_limit_exceeded", "1 once the DLQ limit stopped the worker.", registry=r
        )
        self.build = Info("newsstream_build", "The running version.", registry=r)

    def _add_sink_metrics(self, r: CollectorRegistry) -> None:
        self.bulk_size = Histogram(
            "newsstream_bulk_documents",
            "Documents in one bulk request.",
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.bulk_duration = Histogram(
            "newsstream_bulk_duration_seconds",
            "Time of one bulk request.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ingest_latency = Histogram(
            "newsstream_ingest_latency_seconds",
            "From the raw record's Kafka timestamp (when it was published) to Elasticsearch "
            "accepting the article (searchable after the next refresh, 1 s by default).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def stage(self, name: str, health: Health) -> StageTelemetry:
        return StageTelemetry(name, self, health)


@dataclass
class StageHealth:
    """When the stage's current step started; None while it waits for records."""

    name: str
    clock: Callable[[], float]
    step_started: float | None = None

    def begin(self) -> None:
        self.step_started = self.clock()

    def idle(self) -> None:
        self.step_started = None

    def stuck_for(self) -> float:
        return 0.0 if self.step_started is None else self.clock() - self.step_started


@dataclass
class Health:
    """What /healthz and /readyz answer from."""

    stuck_after: float
    clock: Callable[[], float] = time.monotonic
    stages: dict[str, StageHealth] = field(default_factory=dict)
    kafka_reachable: bool = False
    elasticsearch_reachable: bool = False
    partitions_assigned: bool = False
    stopped_by_dlq_limit: bool = False

    def stage(self, name: str) -> StageHealth:
        return self.stages.setdefault(name, StageHealth(name, self.clock))

    def stuck_stages(self) -> list[str]:
        return [s.name for s in self.stages.values() if s.stuck_for() > self.stuck_after]

    def not_ready_because(self) -> list[str]:
        reasons = [f"stage {name} stuck" for name in self.stuck_stages()]
        checks = (
            (self.partitions_assigned, "no partitions assigned"),
            (self.kafka_reachable, "Kafka unreachable"),
            (self.elasticsearch_reachable, "Elasticsearch unreachable"),
            (not self.stopped_by_dlq_limit, "stopped by the DLQ limit"),
        )
        return reasons + [reason for ok, reason in checks if not ok]


@dataclass
class StageTelemetry:
    """One stage's view of the metrics and its health, as the runner reports them."""

    stage: str
    metrics: Metrics
    health: Health

    def consumed(self, count: int) -> None:
        self.metrics.consumed.labels(self.stage).inc(count)

    def done(self) -> None:
        self.metrics.done.labels(self.stage).inc()

    def dead_lettered(self, stage: str, error: BaseException) -> None:
        self.metrics.dead_lettered.labels(stage, type(error).__name__).inc()

    def waiting(self, count: int, cause: BaseException | None, seconds: float) -> None:
        kind = type(cause).__name__ if isinstance(cause, TransientError) else "unknown"
        self.metrics.retries.labels(self.stage, kind).inc(count)
        self.metrics.backoff.labels(self.stage, kind).inc(seconds)

    def handled(self, seconds: float) -> None:
        self.metrics.stage_latency.labels(self.stage).observe(seconds)

    def step(self) -> None:
        self.health.stage(self.stage).begin()

    def idle(self) -> None:
        self.health.stage(self.stage).idle()

    def limit_exceeded(self) -> None:
        self.health.stopped_by_dlq_limit = True
        self.metrics.dlq_limit_exceeded.set(1)


class LagCollector(Collector):
    """Consumer lag per topic-partition, read when Prometheus scrapes.

    ``lags`` yields (topic, partition, lag) for the partitions this worker holds; lag is
    what was written but not yet committed.
    """

    def __init__(self, lags: Callable[[], Iterator[tuple[str, int, int]]]) -> None:
        self._lags = lags

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "newsstream_consumer_lag",
            "Records written to a partition this worker holds but not yet committed.",
            labels=["topic", "partition"],
        )
        for topic, partition, records in self._lags():
            lag.add_metric([topic, str(partition)], records)
        yield lag
