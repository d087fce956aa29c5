"""The worker's web port during a real run: metrics that add up, health and readiness."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.settings import Settings

from .conftest import ARTICLE_IDS, ROOT, sample_lines, wait_until

pytestmark = pytest.mark.integration


def url(settings: Settings, path: str) -> str:
    return f"http://127.0.0.1:{settings.worker_web_port}{path}"


def scrape(settings: Settings) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(url(settings, "/metrics"), timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_what_went_through(indexed: dict[str, Any], settings: Settings) -> None:
    malformed = len(sample_lines("malformed.jsonl"))
    valid = len(ARTICLE_IDS) + 1  # and the seed
    samples = wait_until(
        lambda: (
            (s := scrape(settings))
            and value(s, "newsstream_records_done_total", stage="index") >= valid
            and s
        ),
        timeout=60,
        what="the index stage's count to reach the valid samples",
    )
    assert value(samples, "newsstream_records_consumed_total", stage="enrich") >= valid + malformed
    dead = value(
        samples, "newsstream_records_dead_lettered_total", stage="parse", reason="InvalidArticle"
    )
    assert dead == malformed
    assert value(samples, "newsstream_records_done_total", stage="enrich") >= valid
    assert value(samples, "newsstream_bulk_documents_count") >= 1
    assert value(samples, "newsstream_ingest_latency_seconds_count") >= valid
    assert value(samples, "newsstream_dlq_limit_exceeded") == 0
    assert any(name == "newsstream_build_info" for name, _ in samples)
    lag = [v for (name, _), v in samples.items() if name == "newsstream_consumer_lag"]
    assert lag and all(v >= 0 for v in lag)


def test_alert_statuses_are_counted(indexed: dict[str, Any], settings: Settings) -> None:
    wait_until(
        lambda: value(scrape(settings), "newsstream_alerts_total", status="sent") >= 1,
        timeout=60,
        what="a sent alert in the metrics",
    )


def test_faust_pages_are_not_served(worker: Path, settings: Settings) -> None:
    for path in ("/router/", "/table/", "/graph/", "/stats/"):
        assert httpx.get(url(settings, path), timeout=5).status_code == 404


def ready(settings: Settings) -> tuple[int, Any]:
    response = httpx.get(url(settings, "/readyz"), timeout=5)
    return response.status_code, response.json()


@contextmanager
def elasticsearch_frozen() -> Iterator[None]:
    pid = elasticsearch_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def elasticsearch_pid() -> int:
    """The local stack's Elasticsearch server (the one whose home is this clone's, if
    several run)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"org.elasticsearch.server/org.elasticsearch.bootstrap.Elasticsearch" in args:
            found.append((int(entry.name), b"".join(args)))
    mine = [pid for pid, args in found if str(ROOT).encode() in args] or [p for p, _ in found]
    assert len(mine) == 1, f"expected one local Elasticsearch, found {len(found)}"
    return mine[0]


def test_liveness_and_readiness_follow_elasticsearch(
    indexed: dict[str, Any], settings: Settings
) -> None:
    assert httpx.get(url(settings, "/healthz"), timeout=5).status_code == 200
    wait_until(lambda: ready(settings)[0] == 200, timeout=30, what="the worker to be ready")
    with elasticsearch_frozen():
        _, answer = wait_until(
            lambda: (r := ready(settings))[0] == 503 and r, timeout=30, what="not ready"
        )
        assert "Elasticsearch unreachable" in answer["reasons"]
        assert httpx.get(url(settings, "/healthz"), timeout=5).status_code == 200  # not dead
    wait_until(lambda: ready(settings)[0] == 200, timeout=60, what="ready again")


@pytest.fixture(scope="module")
def browser() -> str:
    """Debian's chromium, installed by the project's script when missing (root + apt)."""
    found = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / "browser.sh")], capture_output=True, text=True
    )
    if found.returncode != 0:
        pytest.fail(f"no headless browser for the status page: {found.stderr.strip()}")
    return found.stdout.strip().splitlines()[-1]


def chromium(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_status_page_in_a_real_browser(
    indexed: dict[str, Any], settings: Settings, browser: str, tmp_path: Path
) -> None:
    wait_until(  # the page lists alert records: wait for the seed's
        lambda: value(scrape(settings), "newsstream_alerts_total", status="sent") >= 1,
        timeout=60,
        what="a sent alert",
    )
    page = url(settings, "/")
    wait_until(  # the alert records are searchable after the index's refresh (1 s)
        lambda: "Sanctions news" in httpx.get(page, timeout=5).text,
        timeout=30,
        what="the sanctions alert on the status page",
    )
    dom = chromium(browser, "--dump-dom", page).stdout
    assert "<h1>newsstream worker" in dom
    for stage in ("enrich", "index", "match-alerts", "deliver-alerts"):
        assert f"<td>{stage}</td>" in dom
    dead_letters = dom[dom.index('id="dead-letters"') : dom.index('id="alerts"')]
    assert "<td>parse</td><td>InvalidArticle</td>" in dead_letters
    alerts = dom[dom.index('id="alerts"') :]
    assert "Sanctions news" in alerts and "/app/discover#/" in alerts
    shot = tmp_path / "status.png"
    chromium(browser, f"--screenshot={shot}", "--window-size=1280,1100", page)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1280, 1100)
    (ROOT / ".stack").mkdir(exist_ok=True)
    (ROOT / ".stack" / "status-page.png").write_bytes(png)  # kept for a person to look at
