"""Produce → webhook latency at a steady rate, with the whole local stack running.

A worker runs on its own topics and indices (random suffix); a producer publishes
articles that the bench's keyword rule matches, every one, at ``rate`` per second; a
receiver on loopback notes when each alert arrives. Latency = arrival - send, per
article. The harness is bench/e2e.py's (``pipeline``, ``run_phase``), with short batches.
"""

from __future__ import annotations

import random
import socket
import time
import uuid
from typing import Any

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
    """Every article alerts; the worker's batches are short (latency, not throughput)."""
    from bench.e2e import ALERT_WORD, pipeline, run_phase

    run = uuid.uuid4().hex[:8]
    rng = random.Random(run)

    def article(n: int) -> dict[str, str]:
        return {
            "url": f"https://bench.example/{run}/{n}",
            "title": f"Steel tariffs {ALERT_WORD}",
            "text": body(rng),
        }

    with pipeline("bench", sink_batch_seconds=0.2, enrich_batch_seconds=0.05) as pipe:
        time.sleep(3)  # let the consumer group settle before the clock starts
        # The first `warmup` seconds warm caches and JITs (Python, Elasticsearch) and are
        # not counted: the goal is latency at a steady rate.
        phase = run_phase(
            pipe,
            rate=rate,
            seconds=seconds,
            warmup=warmup,
            article=article,
            alerts=lambda n: True,
            drain_seconds=60,
            give_up_seconds=None,
        )
    webhook = phase["produce_to_webhook"]
    return {
        "command": "make bench (bench/latency.py)",
        "rate_per_s": rate,
        "seconds": seconds,
        "warmup_seconds_not_counted": warmup,
        "sent": phase["timed_articles"],
        "alerts_received": webhook["count"],
        "p50_s": webhook.get("p50_s"),
        "p90_s": webhook.get("p90_s"),
        "p99_s": webhook.get("p99_s"),
        "max_s": webhook.get("max_s"),
        "produce_to_searchable": phase["produce_to_searchable"],
    }
