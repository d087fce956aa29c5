"""Workers SIGKILLed mid-stream: every article searchable exactly once, no alert twice.

A SIGKILL is the worst way to go: no shutdown, no offset commit, no alert status update.
What the killed worker had read but not acked is read again by its successor: the index
overwrites by article id, and ``news-alerts`` (created before delivery) keeps an alert
from going out twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from tests.integration.conftest import wait_until

from .conftest import Feeder, Pipeline, alerting, check_alerts, duplicates, make_articles

pytestmark = pytest.mark.faults


@pytest.mark.timeout(900)
def test_a_worker_killed_twice_mid_stream_loses_and_repeats_nothing(
    pipeline: Callable[..., Pipeline], report: Callable[..., None]
) -> None:
    p = pipeline()
    articles = make_articles("kill", 2_000)
    ids = [a["id"] for a in articles]
    worker = p.start_worker()
    feeder = Feeder(p.settings, articles, per_second=80)
    feeder.start()
    restarts = []
    for threshold in (300, 1_100):
        wait_until(
            lambda n=threshold: p.searchable_count() >= n,  # type: ignore[misc]
            timeout=300,
            what=f"{threshold} articles searchable before the kill",
        )
        worker.kill()
        started = time.monotonic()
        worker = p.start_worker()
        restarts.append(time.monotonic() - started)
    produced = feeder.finish(timeout=120)
    found = p.wait_searchable(ids, timeout=400)
    alerts = check_alerts(p, len(alerting(articles)), timeout=180)
    letters = p.dead_letters(p.settings.topic_dlq)
    report(
        produced=produced,
        searchable=len(set(found)),
        dead_lettered=len(letters),
        duplicated=duplicates(Counter(found)),
        alerts=alerts.records,
        alerts_sent=alerts.sent,
        alerts_unconfirmed=alerts.unconfirmed,
        webhook_requests=alerts.requests,
        alerts_duplicated=alerts.duplicated,
        restart_s=max(restarts),
    )
    assert sorted(found) == sorted(ids), "every article exactly once"
    assert p.searchable_count() == len(ids)
    assert letters == [], "valid articles must not be dead-lettered"


@pytest.mark.timeout(900)
def test_the_other_worker_of_the_group_takes_over_a_killed_one_s_partitions(
    pipeline: Callable[..., Pipeline], report: Callable[..., None]
) -> None:
    p = pipeline(topic_partitions=4)
    articles = make_articles("takeover", 1_200)
    ids = [a["id"] for a in articles]
    survivor, victim = p.start_worker(), p.start_worker()
    every_partition = set(range(p.settings.topic_partitions))
    feeder = Feeder(p.settings, articles, per_second=60)
    feeder.start()
    wait_until(lambda: p.searchable_count() >= 300, timeout=300, what="300 articles searchable")
    wait_until(
        lambda: survivor.raw_partitions() and victim.raw_partitions(),
        timeout=120,
        what="both workers to hold partitions of the raw topic",
    )
    held = survivor.raw_partitions()
    assert held < every_partition, f"the survivor already held every partition: {held}"
    victim.kill()
    killed = time.monotonic()
    wait_until(
        lambda: survivor.raw_partitions() == every_partition,
        timeout=240,
        what="the survivor to hold every partition",
    )
    takeover = time.monotonic() - killed
    produced = feeder.finish(timeout=120)
    found = p.wait_searchable(ids, timeout=400)
    caught_up = time.monotonic() - killed
    alerts = check_alerts(p, len(alerting(articles)), timeout=180)
    letters = p.dead_letters(p.settings.topic_dlq)
    report(
        produced=produced,
        searchable=len(set(found)),
        dead_lettered=len(letters),
        duplicated=duplicates(Counter(found)),
        alerts=alerts.records,
        alerts_unconfirmed=alerts.unconfirmed,
        webhook_requests=alerts.requests,
        alerts_duplicated=alerts.duplicated,
        partitions_before=len(held),
        takeover_s=takeover,
        all_searchable_after_kill_s=caught_up,
    )
    assert survivor.alive
    assert sorted(found) == sorted(ids), "every article exactly once"
    assert letters == [], "valid articles must not be dead-lettered"
