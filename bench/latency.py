"""Produce → webhook latency at a steady rate, with the whole local stack running.

A worker runs on its own topics and indices (random suffix); a producer publishes
articles that a "tariff" keyword rule matches, at ``rate`` per second; a receiver on
loopback notes when each alert arrives. Latency = arrival - send, per article.
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from streams.devtools import Received, WebhookReceiver, localrun
from streams.settings import Settings
from streams.setup import remove_everything, setup_everything

LEAD = "Officials said new tariffs on imported steel would take effect next month. "
# Distinct bodies: identical ones would be grouped as one story and alert once.
WORDS = [
    "port",
    "harbour",
    "council",
    "budget",
    "river",
    "school",
    "farmers",
    "election",
    "minister",
    "court",
    "museum",
    "bank",
    "railway",
    "festival",
    "hospital",
    "market",
    "weather",
    "coast",
    "factory",
    "bridge",
    "library",
    "energy",
    "police",
    "village",
    "union",
    "orchestra",
    "airline",
    "mining",
    "forest",
    "island",
    "football",
    "satellite",
    "vaccine",
    "theatre",
    "shipping",
    "bakery",
    "desert",
    "glacier",
    "canal",
    "parliament",
    "tribunal",
    "startup",
    "refinery",
    "vineyard",
]


def body(rng: random.Random) -> str:
    sentences = [" ".join(rng.choices(WORDS, k=12)).capitalize() + "." for _ in range(8)]
    return LEAD + " ".join(sentences)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run_latency(
    *, rate: float = 20.0, seconds: float = 30.0, warmup: float = 5.0
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    arrivals: dict[str, float] = {}

    def note(item: Received) -> None:
        now = time.monotonic()
        for marker in item.body.split(b"bench-")[1:]:
            arrivals.setdefault(marker[:20].decode(errors="replace"), now)

    receiver = WebhookReceiver(echo=note).start()
    rules = Path(tempfile.mkdtemp()) / "rules.yaml"
    # No throttle here: every article must produce its own alert to be timed.
    rules.write_text(
        "version: 1\nrules:\n  - id: bench-tariffs\n    name: Tariffs\n"
        "    query: {keywords: [tariff]}\n"
    )
    prefix = f"bench-{run}"
    settings = Settings.from_env().isolated(
        prefix,
        worker_data_dir=Path(tempfile.mkdtemp()),
        worker_web_port=free_port(),
        webhook_url=receiver.url,
        rules_path=rules,
        sink_batch_seconds=0.2,
        enrich_batch_seconds=0.05,
    )
    setup_everything(settings)
    log = Path(tempfile.mkdtemp()) / "worker.log"
    worker = localrun.start(
        ["worker"], env={**os.environ, **settings.as_env()}, log=log, ready=b"Ready"
    )
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=0)
    sent: dict[str, float] = {}
    rng = random.Random(run)
    try:
        time.sleep(3)  # let the consumer group settle before the clock starts
        # The first `warmup` seconds warm caches and JITs (Python, Elasticsearch) and are
        # not counted: the goal is latency at a steady rate.
        skipped = int(rate * warmup)
        total = int(rate * seconds) + skipped
        start = time.monotonic()
        for n in range(total):
            due = start + n / rate
            time.sleep(max(0.0, due - time.monotonic()))
            marker = f"{run}{n:012d}"[:20]
            article = {
                "url": f"https://bench.example/{run}/{n}",
                "title": f"Steel tariffs bench-{marker}",
                "text": body(rng),
            }
            producer.send(settings.topic_raw, value=orjson.dumps(article))
            if n >= skipped:
                sent[marker] = time.monotonic()
        producer.flush()
        deadline = time.monotonic() + 60
        while not set(sent) <= set(arrivals) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        producer.close()
        localrun.stop(worker)
        receiver.stop()
        remove_everything(settings)
    latencies = [arrivals[m] - t for m, t in sent.items() if m in arrivals]
    return {
        "command": "make bench (bench/latency.py)",
        "rate_per_s": rate,
        "seconds": seconds,
        "warmup_seconds_not_counted": warmup,
        "sent": len(sent),
        "alerts_received": len(latencies),
        "p50_s": statistics.median(latencies) if latencies else None,
        "p90_s": percentile(latencies, 90) if latencies else None,
        "p99_s": percentile(latencies, 99) if latencies else None,
        "max_s": max(latencies) if latencies else None,
    }
