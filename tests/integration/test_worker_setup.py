"""A worker told not to set up (NEWSSTREAM_WORKER_SETUP=false, as the Helm chart runs it)
creates nothing: it stops with a reason while set-up has not run, and works once it has."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from streams.elastic import make_client
from streams.kafka import KafkaConnection
from streams.kafka.topics import pipeline_topics
from streams.settings import Settings
from streams.setup import remove_everything, setup_everything
from tests.integration.conftest import (
    ROOT,
    SAMPLES,
    SEED_ID,
    free_port,
    get_docs,
    produce_file,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def unset(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings.from_env().isolated(
        f"test-{uuid.uuid4().hex[:8]}",
        worker_data_dir=tmp_path / "worker",
        worker_web_port=free_port(),
        worker_setup=False,
        sink_batch_seconds=0.3,
        enrich_batch_seconds=0.1,
    )
    yield settings
    remove_everything(settings)


def topics_named_after(settings: Settings) -> set[str]:
    admin = KafkaAdminClient(**KafkaConnection.from_settings(settings).kafka_python())
    try:
        prefix = settings.topic_raw.split(".")[0]
        return {t for t in admin.list_topics() if prefix in t}
    finally:
        admin.close()


def test_worker_without_setup_rights_stops_until_setup_ran_then_works(
    unset: Settings, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker"],
        cwd=ROOT,
        env={**os.environ, **unset.as_env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Kafka topics missing" in done.stderr and "newsstream setup" in done.stderr
    assert topics_named_after(unset) == set(), "a worker without set-up rights created topics"

    setup_everything(unset)
    process = start_worker(unset, tmp_path / "worker.log")
    try:
        produce_file(unset, SAMPLES / "seed_article.jsonl")
        es = make_client(unset)
        try:
            wait_until(
                lambda: get_docs(es, unset.articles_alias, [SEED_ID]),
                timeout=120,
                what="the seed article indexed by a worker that did not set up",
            )
        finally:
            es.close()
    finally:
        process.terminate()
        process.wait(timeout=60)
    # Faust declared nothing of its own: the topics are exactly the ones set-up made.
    assert topics_named_after(unset) == {t.name for t in pipeline_topics(unset)}
    assert unset.app_id in consumer_groups(unset)
    remove_everything(unset)  # and it leaves neither topics nor the worker's group behind
    assert topics_named_after(unset) == set()
    assert unset.app_id not in consumer_groups(unset)


def consumer_groups(settings: Settings) -> set[str]:
    admin = KafkaAdminClient(**KafkaConnection.from_settings(settings).kafka_python())
    try:
        return {group["group_id"] for group in admin.list_groups()}
    finally:
        admin.close()


def test_missing_indices_are_named(unset: Settings) -> None:
    from streams.errors import ConfigError
    from streams.worker.preflight import check_indices

    with pytest.raises(ConfigError, match=unset.articles_alias):
        check_indices(unset)
