"""Alert delivery against real Elasticsearch, Kafka and an HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch

from streams.alerts import (
    AlertDispatcher,
    RulesHolder,
    alert_id,
    elasticsearch_query,
    matches_query_string,
    verify,
)
from streams.devtools import WebhookReceiver, localrun
from streams.elastic import make_async_client, make_client
from streams.errors import DeliveryError
from streams.messages import Alert
from streams.settings import Secret, Settings
from streams.setup import remove_everything

from .conftest import (
    ARTICLE_IDS,
    ROOT,
    SAMPLES,
    SEED_ID,
    consume_all,
    get_docs,
    isolated_settings,
    produce_file,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

SECRET = "rules-secret"
RULES = """
version: 1
rules:
  - id: plain
    name: Plain rule
    query: {topic: sanctions}
  - id: limited
    name: One an hour
    query: {topic: sanctions}
    throttle: {max: 1, per: 1h}
  - id: digested
    name: Digest of a minute
    query: {topic: sanctions}
    throttle: {digest: 1m}
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def alert_settings(tmp_path: Path, hook: WebhookReceiver) -> Iterator[Settings]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    settings = isolated_settings(
        tmp_path,
        rules_path=rules,
        webhook_url=hook.url,
        webhook_secret=Secret(SECRET),
        webhook_max_attempts=4,
    )
    yield settings
    remove_everything(settings)


def an_alert(rule_id: str, story: str) -> Alert:
    return Alert(
        alert_id=alert_id(rule_id, story),
        rule_id=rule_id,
        rule_name=rule_id,
        article_id=story,
        article_title=f"Story {story}",
        article_url=f"https://news.example/{story}",
        evidence=["topic sanctions (score 0.9)"],
        created_at="2026-11-30T00:00:00Z",
        targets=["default"],
    )


def dispatch_all(
    settings: Settings,
    alerts: list[Alert],
    *,
    clock: Callable[[], float] = time.time,
    flush_at: float | None = None,
) -> list[DeliveryError | None]:
    """Run a real AlertDispatcher (no Faust) over ``alerts``; optionally flush digests."""

    async def run() -> list[DeliveryError | None]:
        es = make_async_client(settings)
        async with httpx.AsyncClient(timeout=2) as http:
            dispatcher = AlertDispatcher(
                es=es,
                http=http,
                settings=settings,
                rules=RulesHolder.load(settings, environ={}),
                clock=clock,
            )
            dispatcher.policy = dispatcher.policy.__class__(
                max_attempts=settings.webhook_max_attempts, base_delay=0.01, max_delay=0.05
            )
            results = [await dispatcher.dispatch(alert) for alert in alerts]
            if flush_at is not None:
                dispatcher.clock = lambda: flush_at
                results.extend(await dispatcher.flush_due_digests())
        await es.close()
        return results

    return asyncio.run(run())


def record(settings: Settings, alert: Alert) -> dict[str, Any]:
    with make_client(settings) as es:
        source: dict[str, Any] = es.get(index=settings.alerts_index, id=alert.alert_id)["_source"]
    return source


def test_three_server_errors_then_success_is_one_delivery_with_its_attempts(
    alert_settings: Settings, hook: WebhookReceiver
) -> None:
    hook.fail_first = 3
    alert = an_alert("plain", "story-1")
    assert dispatch_all(alert_settings, [alert]) == [None]
    assert hook.alert_ids() == [alert.alert_id]
    stored = record(alert_settings, alert)
    assert (stored["status"], stored["attempts"]) == ("sent", 4)
    assert stored["delivered_at"] and stored["last_error"] is None


def test_dead_receiver_marks_the_alert_failed(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    settings = isolated_settings(
        tmp_path,
        rules_path=rules,
        webhook_url=f"http://127.0.0.1:{closed_port()}/hook",
        webhook_max_attempts=2,
    )
    try:
        alert = an_alert("plain", "story-2")
        (failure,) = dispatch_all(settings, [alert])
        assert isinstance(failure, DeliveryError) and "could not connect" in str(failure)
        stored = record(settings, alert)
        assert (stored["status"], stored["attempts"]) == ("failed", 2)
        assert "could not connect" in stored["last_error"]
    finally:
        remove_everything(settings)


def test_the_same_alert_twice_is_delivered_once(
    alert_settings: Settings, hook: WebhookReceiver
) -> None:
    alert = an_alert("plain", "story-3")
    assert dispatch_all(alert_settings, [alert, alert]) == [None, None]
    assert dispatch_all(alert_settings, [alert]) == [None]  # a restarted worker, too
    assert hook.alert_ids() == [alert.alert_id]


def test_signature_verifies_with_the_documented_recipe(
    alert_settings: Settings, hook: WebhookReceiver
) -> None:
    dispatch_all(alert_settings, [an_alert("plain", "story-4")])
    (received,) = hook.received
    assert verify(received.body, received.headers, SECRET, now=time.time())
    assert not verify(received.body + b" ", received.headers, SECRET, now=time.time())
    assert not verify(received.body, received.headers, SECRET, now=time.time() + 3600)
    payload = received.json()
    assert "story-4" in received.body.decode() and payload


def test_throttle_sends_at_most_n_per_window(
    alert_settings: Settings, hook: WebhookReceiver
) -> None:
    first, second = an_alert("limited", "story-5"), an_alert("limited", "story-6")
    dispatch_all(alert_settings, [first, second])
    assert hook.alert_ids() == [first.alert_id]
    assert record(alert_settings, second)["status"] == "throttled"


def test_digest_sends_one_message_for_its_window(
    alert_settings: Settings, hook: WebhookReceiver
) -> None:
    start = time.time()
    alerts = [an_alert("digested", "story-7"), an_alert("digested", "story-8")]
    results = dispatch_all(alert_settings, alerts, clock=lambda: start, flush_at=start + 61)
    assert results == [None, None]
    (message,) = hook.received
    assert "story-7" in message.body.decode() and "story-8" in message.body.decode()
    assert {record(alert_settings, a)["status"] for a in alerts} == {"sent"}


def test_query_string_rules_select_what_elasticsearch_selects(
    indexed: dict[str, Any], es: Elasticsearch, settings: Settings
) -> None:
    ids = list(indexed)
    # mget (behind `indexed`) is real-time, search sees documents after a refresh.
    es.indices.refresh(index=settings.articles_alias)
    queries = [
        "topics.label:sanctions AND countries:CN",
        'entities.name:"Xi Jinping"',
        "sanctions",
        "tariff* OR quota*",
        '"export controls"',
        "language:de OR language:es",
        "NOT topics.label:sanctions",
        "countries:RU AND -topics.label:military",
        "categories.label:sport",
        "topics.score:>0.8",
        "title:(steel OR semiconductor)",
        "_exists_:duplicate_of",
    ]
    for query in queries:
        hits = es.search(
            index=settings.articles_alias,
            query={
                "bool": {"must": [elasticsearch_query(query)], "filter": [{"ids": {"values": ids}}]}
            },
            size=100,
        )["hits"]["hits"]
        expected = {h["_id"] for h in hits}
        ours = {doc_id for doc_id, doc in indexed.items() if matches_query_string(query, doc)}
        assert ours == expected, query


def test_receiver_down_alerts_fail_to_the_dlq_while_articles_keep_flowing(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.split("  - id: limited")[0])
    settings = isolated_settings(
        tmp_path,
        rules_path=rules,
        webhook_url=f"http://127.0.0.1:{closed_port()}/hook",
        webhook_max_attempts=2,
    )
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        produce_file(settings, SAMPLES / "seed_article.jsonl")
        produce_file(settings, SAMPLES / "articles.jsonl")
        wanted = [SEED_ID, *ARTICLE_IDS]
        with make_client(settings) as es:
            wait_until(
                lambda: len(get_docs(es, settings.articles_alias, wanted)) == len(wanted),
                timeout=120,
                what="every article indexed although alerts cannot be delivered",
            )
        letters = [
            orjson.loads(r.value)
            for r in consume_all(settings, settings.topic_alerts_dlq, expect=1)
        ]
        assert letters and all(letter["stage"] == "deliver-alerts" for letter in letters)
        assert "could not connect" in letters[0]["reason"]
        with make_client(settings) as es:
            es.indices.refresh(index=settings.alerts_index)
            statuses = {
                h["_source"]["status"]
                for h in es.search(index=settings.alerts_index, size=100)["hits"]["hits"]
            }
        assert statuses == {"failed"}
    finally:
        localrun.stop(worker)
        remove_everything(settings)


def test_worker_killed_mid_delivery_never_delivers_twice(tmp_path: Path) -> None:
    hook = WebhookReceiver(hold_first=8.0).start()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.split("  - id: limited")[0])
    settings = isolated_settings(tmp_path, rules_path=rules, webhook_url=hook.url)
    worker = start_worker(settings, tmp_path / "worker.log")
    expected = alert_id("plain", SEED_ID)
    try:
        produce_file(settings, SAMPLES / "seed_article.jsonl")
        wait_until(lambda: hook.received, timeout=90, what="the first delivery to be in flight")
        worker.kill()  # SIGKILL: no clean shutdown, the receiver never answered
        worker.wait()
        worker = start_worker(settings, tmp_path / "worker2.log")
        with make_client(settings) as es:
            wait_until(
                lambda: (
                    get_docs(es, settings.alerts_index, [expected]).get(expected, {}).get("status")
                    == "unconfirmed"
                ),
                timeout=120,
                what="the replayed alert to be marked unconfirmed",
            )
        letters = [
            orjson.loads(r.value)
            for r in consume_all(settings, settings.topic_alerts_dlq, expect=1)
        ]
        assert any("unconfirmed" in letter["reason"] for letter in letters)
        time.sleep(2)
        assert hook.alert_ids() == [expected]  # one request, never a second
    finally:
        localrun.stop(worker)
        hook.stop()
        remove_everything(settings)


def test_an_invalid_rule_stops_the_worker_with_a_message_naming_file_and_rule(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text("version: 1\nrules:\n  - id: broken\n    name: Broken\n    query: {topic: }\n")
    settings = isolated_settings(tmp_path, rules_path=rules)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "streams.cli", "worker"],
            cwd=ROOT,
            env=settings.as_env() | {"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1
        assert str(rules) in result.stderr and "broken" in result.stderr
    finally:
        remove_everything(settings)
