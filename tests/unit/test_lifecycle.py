"""Index lifecycle decisions: rollover conditions, the ILM policy, which indices and
documents are past retention, and what `setup` does with and without ILM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import MagicMock

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import BadRequestError

from streams.cli import build_parser, cmd_indices_rollover
from streams.elastic.indices import ensure_indices, settings_updates
from streams.elastic.lifecycle import (
    AliasIndex,
    Expired,
    Lifecycle,
    alias_indices,
    describe_mode,
    describe_rollover,
    expired_indices,
    ilm_operation_mode,
    ilm_policy,
    older_than,
    retention_cutoff,
    rollover_conditions,
)
from streams.errors import ConfigError, SinkError
from streams.settings import Settings

DAY0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def generations(*created_days: float) -> list[AliasIndex]:
    """Indices behind an alias created on these days; the last one is the write index."""
    return [
        AliasIndex(f"a-{i:06d}", day(d), is_write_index=i == len(created_days))
        for i, d in enumerate(created_days, start=1)
    ]


# ---- settings ----------------------------------------------------------------------------


def test_defaults_keep_one_replica_and_roll_articles_weekly() -> None:
    settings = Settings()
    assert (settings.index_shards, settings.index_replicas) == (1, 1)
    assert Lifecycle.from_settings(settings) == Lifecycle(
        max_age="7d",
        max_primary_shard_size="25gb",
        max_docs=0,
        articles_retention_days=90,
        alerts_retention_days=365,
        fingerprints_retention_days=30,
    )


def test_lifecycle_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "NEWSSTREAM_INDEX_REPLICAS": "0",
            "NEWSSTREAM_INDEX_SHARDS": "3",
            "NEWSSTREAM_ARTICLES_ROLLOVER_MAX_AGE": "1d",
            "NEWSSTREAM_ARTICLES_ROLLOVER_MAX_PRIMARY_SHARD_SIZE": "",
            "NEWSSTREAM_ARTICLES_ROLLOVER_MAX_DOCS": "1000000",
            "NEWSSTREAM_ALERTS_RETENTION_DAYS": "0",
        }
    )
    assert (settings.index_shards, settings.index_replicas) == (3, 0)
    assert rollover_conditions(Lifecycle.from_settings(settings)) == {
        "min_docs": 1,
        "max_age": "1d",
        "max_docs": 1000000,
    }
    assert settings.alerts_retention_days == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NEWSSTREAM_INDEX_SHARDS", "0", "INDEX_SHARDS"),
        ("NEWSSTREAM_INDEX_REPLICAS", "-1", "INDEX_REPLICAS"),
        ("NEWSSTREAM_ARTICLES_ROLLOVER_MAX_AGE", "7 days", "such as 7d"),
        ("NEWSSTREAM_ARTICLES_ROLLOVER_MAX_PRIMARY_SHARD_SIZE", "25", "such as 25gb"),
        ("NEWSSTREAM_ARTICLES_ROLLOVER_MAX_DOCS", "-5", "MAX_DOCS"),
        ("NEWSSTREAM_ARTICLES_RETENTION_DAYS", "-1", "ARTICLES_RETENTION_DAYS"),
        ("NEWSSTREAM_FINGERPRINTS_RETENTION_DAYS", "-1", "FINGERPRINTS_RETENTION_DAYS"),
    ],
)
def test_bad_lifecycle_settings_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({variable: value})


def test_an_alias_that_could_never_roll_over_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least one of"):
        Settings(articles_rollover_max_age="", articles_rollover_max_primary_shard_size="")


# ---- rollover and the ILM policy ---------------------------------------------------------


def test_rollover_conditions_leave_out_what_is_off_and_never_roll_an_empty_index() -> None:
    assert rollover_conditions(Lifecycle()) == {
        "min_docs": 1,
        "max_age": "7d",
        "max_primary_shard_size": "25gb",
    }
    assert rollover_conditions(Lifecycle(max_age="", max_primary_shard_size="", max_docs=5)) == {
        "min_docs": 1,
        "max_docs": 5,
    }


def test_the_ilm_policy_rolls_over_hot_and_deletes_after_the_retention() -> None:
    policy = ilm_policy(Lifecycle(max_age="1d", articles_retention_days=30))
    assert policy["phases"]["hot"] == {
        "min_age": "0ms",
        "actions": {"rollover": {"min_docs": 1, "max_age": "1d", "max_primary_shard_size": "25gb"}},
    }
    assert policy["phases"]["delete"] == {"min_age": "30d", "actions": {"delete": {}}}


def test_the_ilm_policy_of_articles_kept_forever_has_no_delete_phase() -> None:
    assert set(ilm_policy(Lifecycle(articles_retention_days=0))["phases"]) == {"hot"}


@pytest.mark.parametrize(
    ("response", "line"),
    [
        (
            {
                "rolled_over": True,
                "old_index": "a-000001",
                "new_index": "a-000002",
                "conditions": {
                    "[max_docs: 1]": True,
                    "[min_docs: 1]": True,
                    "[max_age: 7d]": False,
                },
            },
            "a: rolled over a-000001 -> a-000002 (max_docs: 1)",
        ),
        (
            {
                "rolled_over": False,
                "dry_run": True,
                "old_index": "a-000001",
                "new_index": "a-000002",
                "conditions": {"[max_age: 7d]": True, "[min_docs: 1]": True},
            },
            "a: would roll over a-000001 -> a-000002 (max_age: 7d)",
        ),
        (
            {
                "rolled_over": False,
                "dry_run": True,
                "old_index": "a-000001",
                "new_index": "a-000002",
                "conditions": {"[max_age: 7d]": True, "[min_docs: 1]": False},
            },
            "a: write index a-000001 kept (no rollover condition met)",
        ),
        (
            {
                "rolled_over": False,
                "old_index": "a-000001",
                "new_index": "a-000002",
                "conditions": {"[max_age: 7d]": False, "[min_docs: 1]": True},
            },
            "a: write index a-000001 kept (no rollover condition met)",
        ),
    ],
)
def test_a_rollover_answer_is_one_line(response: dict[str, Any], line: str) -> None:
    assert describe_rollover("a", response) == line


# ---- retention ---------------------------------------------------------------------------


def test_an_index_expires_counted_from_its_rollover_not_its_creation() -> None:
    indices = generations(0, 10, 20)  # a-1 rolled over on day 10, a-2 on day 20
    assert expired_indices(indices, now=day(99), retention_days=90) == []
    assert expired_indices(indices, now=day(100), retention_days=90) == [
        Expired("a-000001", day(10))
    ]
    assert expired_indices(indices, now=day(115), retention_days=90) == [
        Expired("a-000001", day(10)),
        Expired("a-000002", day(20)),
    ]


def test_the_write_index_and_the_newest_index_are_never_expired() -> None:
    assert expired_indices(generations(0), now=day(10_000), retention_days=1) == []
    # A write index that is not the newest (an operator moved the alias) stays too.
    moved = [
        AliasIndex("a-000001", day(0), is_write_index=True),
        AliasIndex("a-000002", day(1), is_write_index=False),
    ]
    assert expired_indices(moved, now=day(10_000), retention_days=1) == []


def test_retention_zero_keeps_everything() -> None:
    assert expired_indices(generations(0, 1, 2), now=day(10_000), retention_days=0) == []
    assert retention_cutoff(day(10), 0) is None


def test_old_documents_are_those_before_the_cutoff() -> None:
    cutoff = retention_cutoff(day(400), 365)
    assert cutoff == day(35)
    assert older_than("created_at", day(35)) == {
        "range": {"created_at": {"lt": "2026-02-05T00:00:00Z"}}
    }


def test_the_indices_behind_an_alias_are_read_oldest_first() -> None:
    response = {
        "n-000002": {
            "aliases": {"n": {"is_write_index": True}},
            "settings": {"index": {"creation_date": "1767312000000", "lifecycle": {"name": "p"}}},
        },
        "n-000001": {
            "aliases": {"n": {"is_write_index": False}},
            "settings": {"index": {"creation_date": "1767225600000"}},
        },
    }
    assert alias_indices(response, "n") == [
        AliasIndex("n-000001", day(0), is_write_index=False),
        AliasIndex("n-000002", day(1), is_write_index=True, ilm_policy="p"),
    ]
    # A lone index without the flag is the write index all the same.
    alone = {"n-000001": {"aliases": {"n": {}}, "settings": response["n-000001"]["settings"]}}
    assert alias_indices(alone, "n")[0].is_write_index


# ---- setup with and without ILM ----------------------------------------------------------


def test_setup_says_who_runs_the_lifecycle() -> None:
    without = describe_mode(None, Lifecycle())
    assert "no ILM on this cluster" in without
    assert "`newsstream indices rollover` on a schedule" in without
    with_ilm = describe_mode("news-articles-lifecycle", Lifecycle())
    assert "ILM policy news-articles-lifecycle installed" in with_ilm
    assert "max_age 7d, max_primary_shard_size 25gb" in with_ilm
    assert "deleted 90 days after rollover" in with_ilm
    assert "alerts and fingerprints" in with_ilm
    assert "STOPPED" in describe_mode("p", Lifecycle(), ilm_running=False)


def test_existing_indices_follow_the_replica_count_and_gain_the_policy() -> None:
    current = {
        "n-000001": {"settings": {"index": {"number_of_replicas": "0"}}},
        "n-000002": {
            "settings": {"index": {"number_of_replicas": "1", "lifecycle": {"name": "old"}}}
        },
        "alerts": {"settings": {"index": {"number_of_replicas": "1"}}},
    }
    articles = {"n-000001", "n-000002"}
    assert settings_updates(current, replicas=1, articles=articles, alias="n", ilm_policy=None) == {
        "n-000001": {"number_of_replicas": 1}
    }
    assert settings_updates(current, replicas=1, articles=articles, alias="n", ilm_policy="p") == {
        "n-000001": {
            "number_of_replicas": 1,
            "index.lifecycle.name": "p",
            "index.lifecycle.rollover_alias": "n",
        }
    }


def api_error(status: int, message: str) -> BadRequestError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "localhost", 9200),
    )
    return BadRequestError(message=message, meta=meta, body={"error": message})


def fake_es(*, ilm: bool) -> Any:
    es = MagicMock()
    es.nodes.info.return_value = {"nodes": {}}
    if ilm:
        es.ilm.get_status.return_value = {"operation_mode": "RUNNING"}
    else:
        es.ilm.get_status.side_effect = api_error(400, "no handler found for uri [/_ilm/status]")
    es.indices.exists_alias.return_value = True
    es.indices.exists.return_value = True
    es.indices.get_alias.return_value.body = {"n-000001": {}}
    es.indices.get_settings.return_value.body = {
        "n-000001": {"settings": {"index": {"number_of_replicas": "1"}}}
    }
    return es


def templates_put(es: Any) -> dict[str, dict[str, Any]]:
    return {c.kwargs["name"]: c.kwargs for c in es.indices.put_index_template.call_args_list}


def test_with_ilm_setup_installs_the_policy_and_the_articles_template_names_it() -> None:
    es = fake_es(ilm=True)
    result = ensure_indices(
        es,
        articles_alias="n",
        alerts_index="al",
        fingerprints_index="fp",
        shards=2,
        replicas=1,
        lifecycle=Lifecycle(articles_retention_days=30),
    )
    assert result.ilm_policy == "n-lifecycle"
    es.ilm.put_lifecycle.assert_called_once_with(
        name="n-lifecycle", policy=ilm_policy(Lifecycle(articles_retention_days=30))
    )
    templates = templates_put(es)
    assert templates["n"]["template"]["settings"] == {
        "refresh_interval": "1s",
        "number_of_shards": 2,
        "number_of_replicas": 1,
        "index.lifecycle.name": "n-lifecycle",
        "index.lifecycle.rollover_alias": "n",
    }
    for single in ("al", "fp"):
        assert "index.lifecycle.name" not in templates[single]["template"]["settings"]
    # The index made before ILM was there is handed to the policy too.
    es.indices.put_settings.assert_called_once_with(
        index="n-000001",
        settings={"index.lifecycle.name": "n-lifecycle", "index.lifecycle.rollover_alias": "n"},
    )
    assert result.updated == ["n-000001"]


def test_without_ilm_setup_installs_no_policy() -> None:
    es = fake_es(ilm=False)
    result = ensure_indices(
        es,
        articles_alias="n",
        alerts_index="al",
        fingerprints_index="fp",
        shards=1,
        replicas=0,
        lifecycle=Lifecycle(),
    )
    assert result.ilm_policy is None
    es.ilm.put_lifecycle.assert_not_called()
    assert "index.lifecycle.name" not in templates_put(es)["n"]["template"]["settings"]
    es.indices.put_settings.assert_called_once_with(
        index="n-000001", settings={"number_of_replicas": 0}
    )


def test_an_ilm_status_refused_for_want_of_privilege_says_which_privilege() -> None:
    es = MagicMock()
    es.ilm.get_status.side_effect = api_error(403, "security_exception: action unauthorized")
    with pytest.raises(SinkError, match="manage_ilm"):
        ilm_operation_mode(es)


# ---- the command -------------------------------------------------------------------------


def test_indices_rollover_is_a_command_with_a_dry_run() -> None:
    args = build_parser().parse_args(["indices", "rollover", "--dry-run"])
    assert args.run is cmd_indices_rollover
    assert args.dry_run is True
    assert build_parser().parse_args(["indices", "rollover"]).dry_run is False


def test_an_unreachable_cluster_stops_the_command_with_one_sink_error() -> None:
    settings = Settings(es_url="http://127.0.0.1:1", es_timeout=1.0)
    args = build_parser().parse_args(["indices", "rollover"])
    with pytest.raises(SinkError, match="cannot reach Elasticsearch"):
        cmd_indices_rollover(args, settings, now=DAY0)
