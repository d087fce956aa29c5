from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from streams.errors import ConfigError
from streams.settings import Settings, documented_settings
from streams.worker import create_app


def test_env_variables_override_defaults() -> None:
    settings = Settings.from_env(
        {
            "NEWSSTREAM_KAFKA_BOOTSTRAP": "kafka:9092",
            "NEWSSTREAM_TOPIC_PARTITIONS": "6",
            "NEWSSTREAM_SINK_BATCH_SECONDS": "2.5",
            "NEWSSTREAM_RULES_PATH": "/etc/newsstream/rules.yaml",
            "OTHER": "ignored",
        }
    )
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.topic_partitions == 6
    assert settings.sink_batch_seconds == 2.5
    assert settings.rules_path == Path("/etc/newsstream/rules.yaml")


def test_a_bad_number_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="NEWSSTREAM_TOPIC_PARTITIONS"):
        Settings.from_env({"NEWSSTREAM_TOPIC_PARTITIONS": "three"})


def test_out_of_range_values_are_rejected() -> None:
    with pytest.raises(ConfigError, match="DLQ_MAX_RATIO"):
        Settings.from_env({"NEWSSTREAM_DLQ_MAX_RATIO": "1.5"})


def test_the_sink_needs_at_least_one_batch_in_flight() -> None:
    with pytest.raises(ConfigError, match="NEWSSTREAM_SINK_BATCHES_IN_FLIGHT"):
        Settings.from_env({"NEWSSTREAM_SINK_BATCHES_IN_FLIGHT": "0"})
    assert Settings.from_env({"NEWSSTREAM_SINK_BATCHES_IN_FLIGHT": "3"}).sink_batches_in_flight == 3


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings.from_env({"NEWSSTREAM_WEBHOOK_SECRET": "hunter2"})
    assert settings.webhook_secret == "hunter2"
    assert "hunter2" not in repr(settings)


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().kafka_bootstrap = "x"  # type: ignore[misc]


def test_as_env_round_trips() -> None:
    settings = Settings(topic_partitions=7, es_url="http://es:9200")
    assert Settings.from_env(settings.as_env()) == settings


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [name for name, _ in documented_settings() if name not in readme]
    assert missing == []


def test_isolated_settings_share_nothing_with_the_defaults() -> None:
    base, isolated = Settings(), Settings().isolated("t1", topic_partitions=1)
    names = (
        "topic_raw",
        "topic_enriched",
        "topic_dlq",
        "topic_alerts",
        "topic_alerts_dlq",
        "app_id",
        "articles_alias",
        "alerts_index",
        "fingerprints_index",
    )
    for name in names:
        assert getattr(isolated, name) != getattr(base, name)
        assert "t1" in getattr(isolated, name)
    assert isolated.topic_partitions == 1


def test_a_misspelled_variable_is_refused_with_the_closest_name() -> None:
    with pytest.raises(ConfigError, match="did you mean NEWSSTREAM_KAFKA_BOOTSTRAP"):
        Settings.from_env({"NEWSSTREAM_KAFKA_BOOTSTRP": "kafka:9092"})


def test_the_local_stack_s_own_variables_are_not_settings_but_allowed() -> None:
    assert Settings.from_env({"NEWSSTREAM_ES_HEAP": "2g"}) == Settings()


def test_unknown_enum_values_are_refused() -> None:
    with pytest.raises(ConfigError, match="NEWSSTREAM_LOG_FORMAT"):
        Settings.from_env({"NEWSSTREAM_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="NEWSSTREAM_LOG_LEVEL"):
        Settings.from_env({"NEWSSTREAM_LOG_LEVEL": "LOUD"})
    assert Settings.from_env({"NEWSSTREAM_LOG_LEVEL": "debug"}).log_level == "debug"


def test_a_fetch_smaller_than_the_largest_record_is_refused() -> None:
    with pytest.raises(ConfigError, match="NEWSSTREAM_KAFKA_FETCH_BYTES"):
        Settings.from_env(
            {"NEWSSTREAM_KAFKA_FETCH_BYTES": "1048576", "NEWSSTREAM_MAX_ARTICLE_BYTES": "4194304"}
        )


def test_the_worker_reads_ahead_as_set_whatever_faust_s_own_variables_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAM_BUFFER_MAXSIZE", "7")  # Faust's own name: must not count
    settings = Settings(kafka_fetch_bytes=32 << 20, stream_buffer_records=2048)
    app = create_app(settings, environ={}, enricher=cast(Any, object()))
    assert app.conf.consumer_max_fetch_size == 32 << 20
    assert app.conf.stream_buffer_maxsize == 2048
    # A poll must fit in the 20 % of the buffer left when Faust pauses a partition.
    assert app.conf.broker_max_poll_records * 5 <= app.conf.stream_buffer_maxsize
