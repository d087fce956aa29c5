"""The pipeline's Kafka topics, created idempotently with explicit partition counts."""

from __future__ import annotations

import contextlib
from collections.abc import Collection

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.errors import StackError
from streams.kafka.connection import KafkaConnection, diagnose
from streams.messages.limits import kafka_record_bytes
from streams.settings import Settings

_BOOTSTRAP_TIMEOUT_MS = 10_000
# Dead-letter topics keep a record long enough for someone to look at it after a holiday.
_DLQ_RETENTION_MS = str(30 * 24 * 3600 * 1000)


def leader_topic(app_id: str) -> str:
    """Faust's topic for electing the group leader (faust.assignor.LeaderAssignor)."""
    return f"{app_id}-__assignor-__leader"


def pipeline_topics(settings: Settings) -> list[NewTopic]:
    # The largest record any producer of the pipeline sends (README "Size limits"): the
    # topics take what the producers accept, whatever the broker's default.
    record_bytes = str(kafka_record_bytes(settings.max_article_bytes))

    def topic(name: str, *, dlq: bool = False) -> NewTopic:
        configs = {"max.message.bytes": record_bytes}
        if dlq:
            configs["retention.ms"] = _DLQ_RETENTION_MS
        return NewTopic(
            name=name,
            num_partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication,
            topic_configs=configs,
        )

    return [
        topic(settings.topic_raw),
        topic(settings.topic_enriched),
        topic(settings.topic_alerts),
        topic(settings.topic_dlq, dlq=True),
        topic(settings.topic_alerts_dlq, dlq=True),
        # `newsstream poll`'s state: the latest record per feed URL is all it reads back.
        NewTopic(
            name=settings.topic_poller_state,
            num_partitions=1,
            replication_factor=settings.topic_replication,
            topic_configs={"cleanup.policy": "compact"},
        ),
        # Created here rather than by Faust, so a worker without the right to create
        # topics can start (NEWSSTREAM_WORKER_SETUP=false).
        NewTopic(
            name=leader_topic(settings.app_id),
            num_partitions=1,
            replication_factor=settings.topic_replication,
        ),
    ]


def _admin(settings: Settings) -> KafkaAdminClient:
    connection = KafkaConnection.from_settings(settings)
    try:
        return KafkaAdminClient(
            **connection.kafka_python(),
            client_id="newsstream-setup",
            # Set-up runs first in every worker: a wrong address, certificate or password
            # should stop it with a reason in seconds, not after the client's 30 s default.
            bootstrap_timeout_ms=_BOOTSTRAP_TIMEOUT_MS,
        )
    except KafkaError as exc:
        raise StackError(diagnose(connection)) from exc


def missing_topics(settings: Settings) -> list[str]:
    """The pipeline's topics this Kafka user cannot see: not created yet, or no Describe."""
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
    except KafkaError as exc:
        raise StackError(f"could not list Kafka topics: {exc}") from exc
    finally:
        admin.close()
    return [t.name for t in pipeline_topics(settings) if t.name not in existing]


def ensure_topics(settings: Settings, *, only: Collection[str] | None = None) -> list[str]:
    """Create the missing topics (of ``only``, when given); return the names created.

    A producer passes the topics it uses: with a least-privilege user it cannot even see
    the others, and would try to create them.
    """
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [
            t
            for t in pipeline_topics(settings)
            if t.name not in existing and (only is None or t.name in only)
        ]
        if missing:
            # Another worker may create one between list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing, validate_only=False)
        return [t.name for t in missing]
    except KafkaError as exc:
        raise StackError(f"could not create Kafka topics: {exc}") from exc
    finally:
        admin.close()
