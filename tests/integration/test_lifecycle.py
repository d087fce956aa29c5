"""Index lifecycle against the real local Elasticsearch (no ILM there): `newsstream indices
rollover` moves the write alias, deletes only articles indices past retention and never
the write index, and deletes only old alerts and fingerprints.

Days cannot be waited for: the command takes ``now``, and the tests pass a time as far
after the real rollovers as each case needs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from streams.cli import cmd_indices_rollover
from streams.elastic import lifecycle as lifecycle_module
from streams.elastic import make_client
from streams.elastic.lifecycle import AliasIndex, read_alias
from streams.settings import Settings
from streams.setup import remove_everything, setup_everything

from .conftest import isolated_settings

pytestmark = pytest.mark.integration

RUN = argparse.Namespace(dry_run=False)
DRY_RUN = argparse.Namespace(dry_run=True)


@pytest.fixture
def own(tmp_path: Path) -> Iterator[Settings]:
    """Indices of this test's own; a rollover as soon as the write index has one article."""
    settings = isolated_settings(tmp_path, articles_rollover_max_docs=1)
    yield settings
    remove_everything(settings)


@pytest.fixture
def es(own: Settings) -> Iterator[Elasticsearch]:
    client = make_client(own)
    yield client
    client.close()


def rollover(
    settings: Settings, capsys: pytest.CaptureFixture[str], *, now: datetime, dry_run: bool = False
) -> list[str]:
    code = cmd_indices_rollover(DRY_RUN if dry_run else RUN, settings, now=now)
    assert code == 0
    return capsys.readouterr().out.splitlines()


def add_articles(es: Elasticsearch, alias: str, *ids: str) -> None:
    for article_id in ids:
        es.index(index=alias, id=article_id, document={"id": article_id, "title": article_id})
    es.indices.refresh(index=alias)


def write_index(es: Elasticsearch, alias: str) -> str:
    (name,) = [index.name for index in read_alias(es, alias) if index.is_write_index]
    return name


def ids_in(es: Elasticsearch, index: str) -> set[str]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"match_all": {}}, size=100, source=False)
    return {hit["_id"] for hit in hits["hits"]["hits"]}


def names(indices: list[AliasIndex]) -> list[str]:
    return [index.name for index in indices]


def test_rollover_moves_the_write_alias_and_the_alias_still_finds_every_article(
    own: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str]
) -> None:
    alias, now = own.articles_alias, datetime.now(UTC)
    first, second = f"{alias}-000001", f"{alias}-000002"
    add_articles(es, alias, "a1", "a2")

    lines = rollover(own, capsys, now=now, dry_run=True)
    assert f"{alias}: would roll over {first} -> {second} (max_docs: 1)" in lines
    assert write_index(es, alias) == first  # a dry run changes nothing

    lines = rollover(own, capsys, now=now)
    assert f"{alias}: rolled over {first} -> {second} (max_docs: 1)" in lines
    assert write_index(es, alias) == second
    assert names(read_alias(es, alias)) == [first, second]

    add_articles(es, alias, "a3")
    assert ids_in(es, first) == {"a1", "a2"}
    assert ids_in(es, second) == {"a3"}
    assert ids_in(es, alias) == {"a1", "a2", "a3"}

    # min_docs: an empty write index does not roll over into another empty one.
    es.delete(index=second, id="a3", refresh=True)
    lines = rollover(own, capsys, now=now)
    assert f"{alias}: write index {second} kept (no rollover condition met)" in lines
    assert write_index(es, alias) == second


def test_retention_deletes_only_indices_rolled_over_before_the_limit_never_the_write_index(
    own: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str]
) -> None:
    alias, real_now = own.articles_alias, datetime.now(UTC)
    for article_id in ("g1", "g2"):
        add_articles(es, alias, article_id)
        rollover(own, capsys, now=real_now)
        time.sleep(1.1)  # rollovers a second apart: each has a date of its own
    add_articles(es, alias, "g3")
    first, second, third = names(read_alias(es, alias))
    created = {index.name: index.created for index in read_alias(es, alias)}
    assert write_index(es, alias) == third
    # From here on the alias must not roll over again: only retention is under test.
    settings = own.replace(articles_rollover_max_docs=0, articles_retention_days=90)
    limit = timedelta(days=90)
    gap = (created[third] - created[second]) / 2

    # Just short of 90 days after the first rollover: nothing goes.
    lines = rollover(settings, capsys, now=created[second] + limit - timedelta(seconds=1))
    assert f"{alias}: no index rolled over more than 90 days ago" in lines
    assert names(read_alias(es, alias)) == [first, second, third]

    # Past it for the first index only (the second rolled over later).
    at = created[second] + limit + gap
    assert any(
        f"would delete {first}" in line for line in rollover(settings, capsys, now=at, dry_run=True)
    )
    assert names(read_alias(es, alias)) == [first, second, third]
    lines = rollover(settings, capsys, now=at)
    assert any(line.startswith(f"{alias}: deleted {first} (rolled over") for line in lines)
    assert names(read_alias(es, alias)) == [second, third]

    # Ages later: every rolled-over index goes, the write index stays and still takes writes.
    lines = rollover(settings, capsys, now=real_now + timedelta(days=10_000))
    assert any(line.startswith(f"{alias}: deleted {second}") for line in lines)
    assert names(read_alias(es, alias)) == [third]
    assert write_index(es, alias) == third
    add_articles(es, alias, "g4")
    assert ids_in(es, alias) == {"g3", "g4"}


def index_timed(es: Elasticsearch, index: str, field: str, ages: dict[str, float]) -> None:
    """Documents whose ``field`` lies this many days back, searchable (the command does not
    refresh: it leaves what is not searchable yet to its next run)."""
    now = datetime.now(UTC)
    for doc_id, days in ages.items():
        when = (now - timedelta(days=days)).isoformat()
        es.index(index=index, id=doc_id, document={field: when})
    es.indices.refresh(index=index)


def test_alerts_and_fingerprints_lose_only_documents_older_than_their_retention(
    own: Settings,
    es: Elasticsearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = own.replace(alerts_retention_days=365, fingerprints_retention_days=30)
    old_alerts = {f"alert-old-{i}": 400 + i for i in range(5)}
    index_timed(es, own.alerts_index, "created_at", {**old_alerts, "alert-new": 10})
    index_timed(es, own.fingerprints_index, "seen_at", {"fp-old": 40, "fp-new": 5})
    now = datetime.now(UTC)

    lines = rollover(settings, capsys, now=now, dry_run=True)
    assert any(line.startswith(f"{own.alerts_index}: would delete 5 documents") for line in lines)
    assert any(
        line.startswith(f"{own.fingerprints_index}: would delete 1 documents") for line in lines
    )
    assert len(ids_in(es, own.alerts_index)) == 6

    # Small batches: the search-and-delete loop must go round until nothing old is left.
    monkeypatch.setattr(lifecycle_module, "DELETE_BATCH", 2)
    lines = rollover(settings, capsys, now=now)
    assert any(
        line.startswith(f"{own.alerts_index}: deleted 5 documents with created_at before")
        for line in lines
    )
    assert any(
        line.startswith(f"{own.fingerprints_index}: deleted 1 documents with seen_at before")
        for line in lines
    )
    assert ids_in(es, own.alerts_index) == {"alert-new"}
    assert ids_in(es, own.fingerprints_index) == {"fp-new"}


def test_retention_zero_keeps_every_document(
    own: Settings, es: Elasticsearch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = own.replace(alerts_retention_days=0, fingerprints_retention_days=0)
    index_timed(es, own.alerts_index, "created_at", {"ancient": 5000})
    lines = rollover(settings, capsys, now=datetime.now(UTC))
    assert f"{own.alerts_index}: kept forever (retention 0 days)" in lines
    assert ids_in(es, own.alerts_index) == {"ancient"}


def test_setup_says_there_is_no_ilm_and_uses_the_replica_setting(
    own: Settings, es: Elasticsearch
) -> None:
    lines = setup_everything(own)
    assert any("no ILM on this cluster" in line for line in lines)
    indices = [*names(read_alias(es, own.articles_alias)), own.alerts_index, own.fingerprints_index]
    current: dict[str, Any] = es.indices.get_settings(index=indices, name="index.number_of_*").body
    assert {
        name: (
            body["settings"]["index"]["number_of_shards"],
            body["settings"]["index"]["number_of_replicas"],
        )
        for name, body in current.items()
    } == {name: ("1", "0") for name in indices}
