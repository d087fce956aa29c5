"""Idempotent set-up of everything the pipeline needs outside itself."""

from __future__ import annotations

from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import NotFoundError
from kafka import KafkaAdminClient

from streams.elastic import ensure_indices, make_client
from streams.elastic.client import status_of, unreachable_reason
from streams.elastic.lifecycle import Lifecycle, describe_mode, policy_name
from streams.errors import SinkError
from streams.kafka import KafkaConnection, ensure_topics
from streams.kafka.topics import pipeline_topics
from streams.settings import Settings


def setup_everything(settings: Settings) -> list[str]:
    """Create missing topics, the ILM policy where the cluster has ILM, index templates,
    the articles alias, the alerts and fingerprints indices; one line per part."""
    lines = []
    created_topics = ensure_topics(settings)
    lines.append(f"kafka topics: {', '.join(created_topics) or 'all present'}")
    lifecycle = Lifecycle.from_settings(settings)
    es = make_client(settings)
    try:
        result = ensure_indices(
            es,
            articles_alias=settings.articles_alias,
            alerts_index=settings.alerts_index,
            fingerprints_index=settings.fingerprints_index,
            shards=settings.index_shards,
            replicas=settings.index_replicas,
            lifecycle=lifecycle,
        )
    except SinkError as exc:
        cause = exc.__cause__
        if isinstance(cause, EsConnectionError) or status_of(cause) in (401, 403):
            # The operator's fix is a setting: name it (certificate, credentials, URL).
            raise SinkError(unreachable_reason(cause, settings)) from cause
        raise
    finally:
        es.close()
    lines.append(
        f"elasticsearch: {', '.join(result.created) or 'templates updated, indices present'}"
    )
    if result.updated:
        lines.append(
            f"elasticsearch: settings updated on {', '.join(result.updated)} "
            f"(number_of_replicas {settings.index_replicas}"
            + (f", ILM policy {result.ilm_policy})" if result.ilm_policy else ")")
        )
    lines.append(describe_mode(result.ilm_policy, lifecycle, ilm_running=result.ilm_running))
    return lines


def remove_everything(settings: Settings) -> None:
    """Delete the topics, indices, templates and ILM policy of ``settings`` (test and
    benchmark runs clean up).

    Wildcard deletes are refused (``action.destructive_requires_name``): each index is named.
    """
    es = make_client(settings)
    try:
        try:
            aliases = list(es.indices.get_alias(name=settings.articles_alias))
        except NotFoundError:  # gone already (a run that cleaned up half-way)
            aliases = []
        for index in [*aliases, settings.alerts_index, settings.fingerprints_index]:
            es.indices.delete(index=index, ignore_unavailable=True)
        quiet = es.options(ignore_status=(400, 404))  # 400: a node without ILM
        for template in (
            settings.articles_alias,
            settings.alerts_index,
            settings.fingerprints_index,
        ):
            quiet.indices.delete_index_template(name=template)
        quiet.ilm.delete_lifecycle(name=policy_name(settings.articles_alias))
    finally:
        es.close()
    admin = KafkaAdminClient(**KafkaConnection.from_settings(settings).kafka_python())
    try:
        names = [topic.name for topic in pipeline_topics(settings)]
        existing = set(admin.list_topics())
        admin.delete_topics([name for name in names if name in existing])
        # The worker's consumer group, so repeated runs do not pile groups up on the broker.
        if settings.app_id in {group["group_id"] for group in admin.list_groups()}:
            admin.delete_groups([settings.app_id])
    finally:
        admin.close()
