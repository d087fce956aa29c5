"""The fault suite (`make test-faults`): the README's delivery guarantees under faults.

Faults stop, freeze and restart servers, so the suite runs a Kafka and an Elasticsearch
of its own on free ports (session-scoped; never the shared stack on 9092/9200), and each
test gets topics, a consumer group and indices of its own on them (``Settings.isolated``).
Workers are real ``newsstream worker`` subprocesses; webhooks go to a receiver of the
test's own, which counts requests per alert id (= per rule and story).

Every test calls ``report(...)`` once with its figures (produced, searchable,
dead-lettered, duplicated, webhook requests, timings): they are appended to
``fault-report.jsonl`` in pytest's temp folder and printed in the terminal summary.
"""

from __future__ import annotations

import base64
import os
import random
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streams.devtools import WebhookReceiver, localrun
from streams.elastic import make_client
from streams.producers import to_record
from streams.settings import Settings
from streams.setup import setup_everything
from tests.integration.conftest import SAMPLES, free_port, start_worker, wait_until
from tests.integration.kafka_servers import KafkaNode, ServerError, start_plain_kafka

from .servers import ElasticsearchNode, start_plain_elasticsearch

REPORTS = pytest.StashKey[list[dict[str, Any]]]()
REPORT_FILE = "fault-report.jsonl"

# One rule, never throttled: every article that mentions a tariff is one alert.
RULES_YAML = """\
version: 1
rules:
  - id: fault-tariffs
    name: Tariff news (fault suite)
    query: {keywords: [tariff]}
    targets: [default]
    throttle: none
"""
ALERT_SENTENCE = "Officials announced a new tariff on imported steel."
# Alert statuses in which nothing more happens to an alert.
SETTLED_ALERT_STATUSES = frozenset({"sent", "failed", "unconfirmed"})


# --------------------------------------------------------------------------- report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    reports = config.stash.get(REPORTS, [])
    if not reports:
        return
    terminalreporter.section("fault suite figures")
    for entry in reports:
        terminalreporter.write_line(format_report(entry))


def format_report(entry: dict[str, Any]) -> str:
    figures = " ".join(
        f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}"
        for key, value in entry.items()
        if key != "test"
    )
    return f"{entry['test']}: {figures}"


@pytest.fixture
def report(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., None]:
    """``report(produced=..., searchable=..., ...)``: this test's line of figures."""

    def write(**figures: Any) -> None:
        entry = {"test": request.node.name, **figures}
        request.config.stash.setdefault(REPORTS, []).append(entry)
        with (tmp_path_factory.getbasetemp() / REPORT_FILE).open("ab") as out:
            out.write(orjson.dumps(entry) + b"\n")
        print(format_report(entry))

    return write


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def fault_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaNode]:
    try:
        node = start_plain_kafka(tmp_path_factory.mktemp("fault-kafka"))
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield node
    finally:
        node.stop(remove=True)


@pytest.fixture(scope="session")
def fault_elasticsearch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ElasticsearchNode]:
    try:
        node = start_plain_elasticsearch(tmp_path_factory.mktemp("fault-es"))
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield node
    finally:
        node.stop(remove=True)


def restore(server: KafkaNode | ElasticsearchNode) -> None:
    """Leave a faulted server running for the next test: thawed, and started if stopped."""
    process = server.process
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGCONT)
    else:
        server.start()


# --------------------------------------------------------------------------- pipeline


@dataclass
class Worker:
    """One ``newsstream worker`` subprocess."""

    process: subprocess.Popen[bytes]
    log: Path
    settings: Settings

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no status update (a node lost, an OOM kill)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.alive:
            localrun.stop(self.process)

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for worker {self.pid}")

    def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of a page of the worker's web port; 0 when nothing answers."""
        url = f"http://127.0.0.1:{self.settings.worker_web_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:  # refused or timed out: not up (yet or any more)
            return 0, b""

    def raw_partitions(self) -> set[int]:
        """The partitions of the raw topic this worker holds and has fetched from (its
        consumer-lag series)."""
        status, body = self.get("/metrics")
        if status != 200:
            return set()
        held = set()
        for labels in re.findall(r"^newsstream_consumer_lag\{(.*)\}", body.decode(), re.MULTILINE):
            pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            if pairs.get("topic") == self.settings.topic_raw:
                held.add(int(pairs["partition"]))
        return held


@dataclass
class Pipeline:
    """A test's own topics, group and indices on the suite's servers, its receiver and
    its workers."""

    settings: Settings
    es: Elasticsearch
    receiver: WebhookReceiver
    directory: Path
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self, **overrides: Any) -> Worker:
        """Another worker in the same consumer group; its own web port and data folder."""
        n = len(self.workers) + 1
        settings = self.settings.replace(
            worker_web_port=free_port(), worker_data_dir=self.directory / f"worker-{n}", **overrides
        )
        log = self.directory / f"worker-{n}.log"
        worker = Worker(start_worker(settings, log), log, settings)
        self.workers.append(worker)
        return worker

    def searchable_ids(self) -> list[str]:
        """Ids of every document behind the alias after a refresh, repeats included."""
        alias = self.settings.articles_alias
        self.es.indices.refresh(index=alias)
        hits = self.es.search(index=alias, size=10_000, source=False, query={"match_all": {}})
        return [hit["_id"] for hit in hits["hits"]["hits"]]

    def searchable_count(self) -> int:
        alias = self.settings.articles_alias
        self.es.indices.refresh(index=alias)
        return int(self.es.count(index=alias)["count"])

    def wait_searchable(self, ids: Sequence[str], *, timeout: float) -> list[str]:
        wanted = set(ids)
        return wait_until(  # type: ignore[no-any-return]
            lambda: wanted <= set(found := self.searchable_ids()) and found,
            timeout=timeout,
            what=f"{len(wanted)} articles to be searchable",
            every=1.0,
        )

    def alert_statuses(self) -> dict[str, str]:
        index = self.settings.alerts_index
        self.es.indices.refresh(index=index)
        hits = self.es.search(index=index, size=10_000, source=["status"])["hits"]["hits"]
        return {hit["_id"]: hit["_source"]["status"] for hit in hits}

    def wait_alerts_settled(self, expected: int, *, timeout: float) -> dict[str, str]:
        def settled() -> dict[str, str] | None:
            statuses = self.alert_statuses()
            done = len(statuses) >= expected and set(statuses.values()) <= SETTLED_ALERT_STATUSES
            return statuses if done else None

        return wait_until(  # type: ignore[no-any-return]
            settled, timeout=timeout, what=f"{expected} alerts to be settled", every=1.0
        )

    def dead_letters(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in read_topic(self.settings, topic)]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.es.close()


@pytest.fixture
def pipeline(
    tmp_path: Path, fault_kafka: KafkaNode, fault_elasticsearch: ElasticsearchNode
) -> Iterator[Callable[..., Pipeline]]:
    """``pipeline(**settings)``: a fresh pipeline on the suite's servers (workers stopped
    and the servers thawed and running again at the end of the test)."""
    made: list[Pipeline] = []
    receivers: list[WebhookReceiver] = []

    def make(**overrides: Any) -> Pipeline:
        receiver = WebhookReceiver().start()
        receivers.append(receiver)
        made.append(new_pipeline(tmp_path, fault_kafka, fault_elasticsearch, receiver, **overrides))
        return made[-1]

    try:
        yield make
    finally:
        for built in made:
            built.stop()
        for hook in receivers:
            hook.stop()
        restore(fault_kafka)
        restore(fault_elasticsearch)


def new_pipeline(
    directory: Path,
    kafka: KafkaNode,
    es: ElasticsearchNode,
    receiver: WebhookReceiver,
    **overrides: Any,
) -> Pipeline:
    rules = directory / "rules.yaml"
    rules.write_text(RULES_YAML)
    settings = Settings.from_env().isolated(
        f"faults-{uuid.uuid4().hex[:8]}",
        kafka_bootstrap=kafka.bootstrap,
        es_url=es.url,
        index_replicas=0,  # one node
        rules_path=rules,
        webhook_url=receiver.url,
        sink_batch_seconds=0.3,
        enrich_batch_seconds=0.1,
        **overrides,
    )
    setup_everything(settings)
    return Pipeline(settings, make_client(settings), receiver, directory)


# --------------------------------------------------------------------------- records


def _vocabulary() -> list[str]:
    """Real English words from the samples; none that a tariff rule would match."""
    words: set[str] = set()
    for line in (SAMPLES / "articles.jsonl").read_bytes().splitlines():
        if line.strip():
            text = orjson.loads(line).get("text") or ""
            words.update(w.lower() for w in re.findall(r"[A-Za-z]{4,}", text))
    return sorted(w for w in words if not w.startswith("tariff"))


VOCABULARY = _vocabulary()


def make_articles(run: str, count: int, *, alert_every: int = 10) -> list[dict[str, Any]]:
    """``count`` distinct raw articles (random sentences of real words: no two are near
    duplicates); every ``alert_every``-th mentions a tariff, so it fires one alert."""
    articles = []
    for i in range(count):
        rng = random.Random(f"{run}-{i}")
        sentences = [
            " ".join(rng.choice(VOCABULARY) for _ in range(14)).capitalize() + "." for _ in range(4)
        ]
        if i % alert_every == 0:
            sentences.append(ALERT_SENTENCE)
        headline = " ".join(rng.choice(VOCABULARY) for _ in range(4))
        articles.append(
            {
                "id": f"{run}-{i:05d}",
                "title": f"Fault suite dispatch {i}: {headline}",
                "url": f"https://faults.example.org/{run}/{i}",
                "text": " ".join(sentences),
                "source": "fault-suite",
                "published_at": "2026-12-01T10:00:00Z",
            }
        )
    return articles


def alerting(articles: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in articles if ALERT_SENTENCE in a["text"]]


def producer_for(settings: Settings, **options: Any) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", **options)


class Feeder(threading.Thread):
    """Publishes raw articles at a steady rate in the background (kafka-python, acks=all)."""

    def __init__(
        self, settings: Settings, articles: Sequence[dict[str, Any]], *, per_second: float
    ):
        super().__init__(daemon=True)
        self.settings, self.articles, self.per_second = settings, articles, per_second
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        producer = producer_for(self.settings, linger_ms=5)
        started = time.monotonic()
        try:
            for i, article in enumerate(self.articles):
                record = to_record(orjson.dumps(article))
                producer.send(self.settings.topic_raw, key=record.key, value=record.value)
                self.sent += 1
                pause = started + (i + 1) / self.per_second - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            producer.flush()
        except BaseException as exc:  # noqa: BLE001 - handed to the test by finish()
            self.error = exc
        finally:
            producer.close()

    def finish(self, timeout: float) -> int:
        self.join(timeout)
        assert not self.is_alive(), f"publishing took longer than {timeout}s"
        if self.error is not None:
            raise self.error
        return self.sent


def read_topic(settings: Settings, topic: str) -> list[Any]:
    """Every record of ``topic`` from the beginning to its current end (no group)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, group_id=None
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end in 60s"
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def original_of(letter: dict[str, Any]) -> bytes:
    return base64.b64decode(letter["original"])


def duplicates(counts: Counter[str]) -> int:
    """How many repeats beyond the first: 0 when everything arrived at most once."""
    return sum(n - 1 for n in counts.values() if n > 1)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


@dataclass(frozen=True)
class AlertFigures:
    records: int
    sent: int
    unconfirmed: int
    requests: int
    duplicated: int


def check_alerts(pipeline: Pipeline, expected: int, *, timeout: float) -> AlertFigures:
    """Every expected alert settled, none delivered twice, none lost: each is sent (and
    received exactly once) or unconfirmed (a worker died mid-request: received at most
    once, and dead-lettered for a person to check)."""
    statuses = pipeline.wait_alerts_settled(expected, timeout=timeout)
    received = Counter(pipeline.receiver.alert_ids())
    letters = pipeline.dead_letters(pipeline.settings.topic_alerts_dlq)
    lettered = {orjson.loads(original_of(letter))["alert_id"] for letter in letters}
    by_status = Counter(statuses.values())
    assert len(statuses) == expected, f"{len(statuses)} alert records, expected {expected}"
    assert duplicates(received) == 0, (
        f"delivered twice: {[a for a, n in received.items() if n > 1]}"
    )
    assert set(received) <= set(statuses), "a delivery without an alert record"
    assert by_status["failed"] == 0, "the receiver was up: no alert may fail"
    not_once = [a for a, s in statuses.items() if s == "sent" and received[a] != 1]
    assert not not_once, f"sent but not received exactly once: {not_once}"
    unconfirmed = {a for a, s in statuses.items() if s == "unconfirmed"}
    assert unconfirmed <= lettered, f"unconfirmed but not dead-lettered: {unconfirmed - lettered}"
    return AlertFigures(
        records=len(statuses),
        sent=by_status["sent"],
        unconfirmed=len(unconfirmed),
        requests=pipeline.receiver.requests_seen,
        duplicated=duplicates(received),
    )
