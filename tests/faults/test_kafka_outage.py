"""Kafka frozen, then stopped, while `newsstream produce` is publishing and a worker runs.

The producer CLI either buffers and retries (exit 0, and then everything it reports as
published must become searchable) or gives up with one clear line and a non-zero exit;
a silent loss (exit 0 with fewer articles searchable than it reported) fails. The
worker, the same process throughout, reconnects and catches up.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO

import orjson
import pytest

from tests.integration.conftest import ROOT, produce_file, wait_until
from tests.integration.kafka_servers import KafkaNode

from .conftest import Pipeline, duplicates, make_articles
from .servers import freeze, thaw

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 20.0
CHUNK = 200  # articles written to the producer's stdin before each phase


def write_lines(stdin: IO[bytes], lines: list[bytes]) -> bool:
    """Feed lines to the producer; False once it has exited (a closed pipe)."""
    try:
        stdin.write(b"".join(line + b"\n" for line in lines))
        stdin.flush()
    except BrokenPipeError:
        return False
    return True


@pytest.mark.timeout(900)
def test_the_producer_and_the_worker_survive_a_frozen_and_a_stopped_kafka(
    pipeline: Callable[..., Pipeline],
    fault_kafka: KafkaNode,
    report: Callable[..., None],
    tmp_path: Path,
) -> None:
    p = pipeline()
    articles = make_articles("kafka-outage", 4 * CHUNK)
    ids = [a["id"] for a in articles]
    lines = [orjson.dumps(a) for a in articles]
    worker = p.start_worker()
    pid = worker.pid
    stdout, stderr = tmp_path / "produce.out", tmp_path / "produce.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        producer = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "produce", "--no-progress", "-"],
            cwd=ROOT,
            env={**os.environ, **p.settings.as_env()},
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
        )
    assert producer.stdin is not None
    chunks = [lines[i : i + CHUNK] for i in range(0, len(lines), CHUNK)]
    write_lines(producer.stdin, chunks[0])
    wait_until(lambda: p.searchable_count() >= 50, timeout=180, what="50 articles searchable")

    freeze(fault_kafka)
    write_lines(producer.stdin, chunks[1])
    time.sleep(OUTAGE_SECONDS)
    thaw(fault_kafka)

    fault_kafka.stop()
    write_lines(producer.stdin, chunks[2])
    time.sleep(OUTAGE_SECONDS)
    kafka_restart = fault_kafka.start()
    back = time.monotonic()

    write_lines(producer.stdin, chunks[3])
    with contextlib.suppress(BrokenPipeError):
        producer.stdin.close()
    code = producer.wait(timeout=240)
    said = stdout.read_text().strip()
    complaint = stderr.read_text(errors="replace").strip()
    published = re.search(r"published (\d+) records", said)
    if code == 0:
        outcome = "buffered and retried"
        assert published, f"exit 0 without saying what it published: {said!r}"
    else:
        outcome = "failed loudly"
        last_line = complaint.splitlines()[-1] if complaint else ""
        assert last_line.startswith("newsstream: "), f"no clear last line: {complaint[-2000:]}"
        assert "Traceback" not in complaint, complaint[-2000:]
        # What an operator does next: publish the file again (ids are stable).
        again = tmp_path / "again.jsonl"
        again.write_bytes(b"\n".join(lines) + b"\n")
        produce_file(p.settings, again)

    found = p.wait_searchable(ids, timeout=400)
    caught_up = time.monotonic() - back
    letters = p.dead_letters(p.settings.topic_dlq)
    report(
        produced=len(ids),
        producer=outcome,
        producer_exit=code,
        reported_published=int(published.group(1)) if published else 0,
        searchable=len(set(found)),
        dead_lettered=len(letters),
        duplicated=duplicates(Counter(found)),
        kafka_restart_s=kafka_restart,
        caught_up_after_restart_s=caught_up,
    )
    if published:
        assert int(published.group(1)) == len(ids), said
    assert worker.alive and worker.pid == pid, "the worker must reconnect, not crash"
    assert sorted(found) == sorted(ids), "every article exactly once"
    assert letters == [], "an outage is waited out, never dead-lettered"
