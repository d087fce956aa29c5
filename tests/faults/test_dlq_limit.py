"""The poison-pill limit: when most recent records fail, the worker stops consuming and
says so on /readyz instead of draining the topic into the DLQ."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
import pytest

from tests.integration.conftest import wait_until

from .conftest import Pipeline, producer_for

pytestmark = pytest.mark.faults

WINDOW = 20
POISON = 400


@pytest.mark.timeout(300)
def test_the_dlq_limit_stops_consumption_and_makes_the_worker_not_ready(
    pipeline: Callable[..., Pipeline], report: Callable[..., None]
) -> None:
    p = pipeline(dlq_window=WINDOW, dlq_max_ratio=0.5)
    worker = p.start_worker()
    producer = producer_for(p.settings)
    try:
        for i in range(POISON):
            producer.send(p.settings.topic_raw, key=b"poison-%d" % i, value=b"\xffnot json %d" % i)
        producer.flush()
    finally:
        producer.close()
    tripped = time.monotonic()

    def stopped() -> str | None:
        if not worker.alive:
            return "exited"
        status, body = worker.get("/readyz")
        reasons = orjson.loads(body).get("reasons", []) if status == 503 else []
        return "not ready" if "stopped by the DLQ limit" in reasons else None

    wait_until(stopped, timeout=120, what="the DLQ limit to stop the worker")
    stopped_after = time.monotonic() - tripped
    # Longer than a stopping worker takes to exit (its web port answers meanwhile), and a
    # worker that kept consuming would dead-letter more.
    time.sleep(15)
    letters = p.dead_letters(p.settings.topic_dlq)
    state = stopped() or "ready again"
    report(
        produced=POISON,
        dead_lettered=len(letters),
        window=WINDOW,
        worker=state,
        exit_code=worker.process.returncode,
        stopped_after_s=stopped_after,
    )
    assert len(letters) < POISON // 2, f"{len(letters)} of {POISON} drained into the DLQ"
    assert state == "not ready", (
        f"the worker is {state} (exit code {worker.process.returncode}) instead of up and "
        f"answering /readyz 503 for the DLQ limit; log {worker.log}:\n"
        + worker.log.read_text(errors="replace")[-2000:]
    )
