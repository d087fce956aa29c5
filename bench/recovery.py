"""How fast the pipeline consumes again after a worker dies: restart and takeover.

Run against the local stack (`make up`), on topics and indices of its own
(``Settings.isolated``), with ``python bench/recovery.py`` (``make bench`` runs it too).
Writes ``bench/results/recovery.json`` (the last run) and prints it.

- **restart**: one worker consumes; it is SIGKILLed (no clean stop, no LeaveGroup) and
  started again at once; an article published right after the kill is timed from the
  kill until Elasticsearch has it. This includes the new process's start (set-up, the
  NER model) and waiting for the consumer group to drop the dead member.
- **takeover**: two workers in one group on ``--partitions`` partitions; one is SIGKILLed;
  one article is published to each of the partitions it held (read from its /metrics),
  timed from the kill until the survivor has indexed them all. The survivor can only
  take the partitions over once the group has noticed the death: the session timeout.
- **takeover after SIGTERM**: the same with a clean stop (the worker leaves the group).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaProducer  # noqa: E402

from bench.latency import body, free_port  # noqa: E402
from bench.machine import machine, write_last  # noqa: E402
from streams.elastic import make_client  # noqa: E402
from streams.producers import to_record  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.setup import remove_everything, setup_everything  # noqa: E402

READY = b"Ready"
TIMEOUT = 240.0  # per measurement: a minute-long session timeout must still show


class Worker:
    """A `newsstream worker` subprocess in a session of its own (killed as a group)."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        env = {**os.environ, **settings.as_env()}
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,  # `-m streams.cli` imports the streams of this tree
            )

    def wait_ready(self, timeout: float = TIMEOUT) -> None:
        until(lambda: READY in self.log.read_bytes() or self._died(), timeout, "worker ready")
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited; log {self.log}")

    def _died(self) -> bool:
        return self.process.poll() is not None

    def held_partitions(self, topic: str) -> set[int]:
        """Partitions of ``topic`` this worker holds, from its /metrics (consumer lag)."""
        url = f"http://127.0.0.1:{self.settings.worker_web_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                text = response.read().decode()
        except OSError:
            return set()
        return partitions_in_metrics(text, topic)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def partitions_in_metrics(text: str, topic: str) -> set[int]:
    held = set()
    for line in text.splitlines():
        if line.startswith("newsstream_consumer_lag{"):
            labels = dict(LABEL.findall(line))
            if labels.get("topic") == topic:
                held.add(int(labels["partition"]))
    return held


LABEL = re.compile(r'(\w+)="([^"]*)"')


def until(check: Callable[[], object], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class Articles:
    """Publishes marker articles and tells when Elasticsearch has them (realtime GET)."""

    def __init__(self, settings: Settings, run: str) -> None:
        self.settings = settings
        self.run = run
        self.count = 0
        self.producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=0
        )
        self.es = make_client(settings)

    def publish(self, partition: int | None = None) -> str:
        self.count += 1
        article = {
            "url": f"https://recovery.example/{self.run}/{self.count}",
            "title": f"Recovery bench article {self.count}",
            "text": body(random.Random(self.count)),
        }
        record = to_record(orjson.dumps(article))
        self.producer.send(
            self.settings.topic_raw, key=record.key, value=record.value, partition=partition
        )
        self.producer.flush()
        return record.key.decode()

    def indexed(self, ids: list[str]) -> bool:
        docs = self.es.mget(index=self.settings.articles_alias, ids=ids)["docs"]
        return all(doc.get("found") for doc in docs)

    def close(self) -> None:
        self.producer.close()
        self.es.close()


def measure_restart(settings: Settings, articles: Articles, logs: Path) -> dict[str, Any]:
    worker = Worker(settings, logs / "restart-1.log")
    try:
        worker.wait_ready()
        warm = articles.publish()
        until(lambda: articles.indexed([warm]), TIMEOUT, "the first article indexed")
        killed_at = time.monotonic()
        worker.kill()
        worker = Worker(settings, logs / "restart-2.log")
        article = articles.publish()
        until(lambda: articles.indexed([article]), TIMEOUT, "an article after the restart")
        indexed_at = time.monotonic()
        worker.wait_ready()  # already: it indexed
        return {"seconds": round(indexed_at - killed_at, 2)}
    finally:
        worker.stop()


def measure_takeover(
    settings: Settings, articles: Articles, logs: Path, *, clean: bool
) -> dict[str, Any]:
    name = "sigterm" if clean else "sigkill"
    survivor = Worker(settings, logs / f"takeover-{name}-survivor.log")
    leaving = Worker(
        settings.replace(
            worker_web_port=free_port(), worker_data_dir=settings.worker_data_dir / "second"
        ),
        logs / f"takeover-{name}-leaving.log",
    )
    topic, partitions = settings.topic_raw, set(range(settings.topic_partitions))
    try:
        survivor.wait_ready()
        leaving.wait_ready()
        # Settled: each holds a share of the raw topic, together all of it, and each
        # partition has an offset (an article through it) so /metrics lists it.
        warm = [articles.publish(p) for p in sorted(partitions)]
        until(lambda: articles.indexed(warm), TIMEOUT, "warm-up articles indexed")

        def settled() -> bool:
            mine, theirs = survivor.held_partitions(topic), leaving.held_partitions(topic)
            return bool(mine) and bool(theirs) and mine | theirs == partitions

        until(settled, TIMEOUT, "both workers holding raw partitions", every=0.5)
        taken = sorted(leaving.held_partitions(topic))
        started = time.monotonic()
        if clean:
            leaving.terminate()
        else:
            leaving.kill()
        ids = [articles.publish(p) for p in taken]
        until(lambda: articles.indexed(ids), TIMEOUT, "the survivor indexing their partitions")
        seconds = time.monotonic() - started
        return {"seconds": round(seconds, 2), "partitions_taken_over": taken}
    finally:
        leaving.stop()
        survivor.stop()


def run_recovery(*, partitions: int = 4) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="recovery-"))
    # No alert rules: what is timed is consuming and indexing, not webhooks.
    rules = tmp / "rules.yaml"
    rules.write_text("version: 1\nrules: []\n")
    settings = Settings.from_env().isolated(
        f"recovery-{run}",
        topic_partitions=partitions,
        index_replicas=0,
        worker_data_dir=tmp / "worker",
        worker_web_port=free_port(),
        sink_batch_seconds=0.2,
        enrich_batch_seconds=0.05,
        rules_path=rules,
    )
    setup_everything(settings)
    articles = Articles(settings, run)
    try:
        restart = measure_restart(settings, articles, tmp)
        takeover = measure_takeover(settings, articles, tmp, clean=False)
        takeover_clean = measure_takeover(settings, articles, tmp, clean=True)
    finally:
        articles.close()
        remove_everything(settings)
        print(f"worker logs: {tmp}", file=sys.stderr)
    return {
        "partitions": partitions,
        "restart_to_consuming_s": restart["seconds"],
        "takeover_after_sigkill_s": takeover["seconds"],
        "takeover_after_sigkill_partitions": takeover["partitions_taken_over"],
        "takeover_after_sigterm_s": takeover_clean["seconds"],
    }


def write_recovery(
    out: Path, *, partitions: int = 4, command: str = "python bench/recovery.py"
) -> dict[str, Any]:
    """Measure, write ``out/recovery.json`` (the last run) and print it."""
    started = machine()
    result = {**run_recovery(partitions=partitions), "command": command}
    return write_last(out, "recovery", started, result)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    write_recovery(args.out, partitions=args.partitions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
