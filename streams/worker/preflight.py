"""What a worker does before it starts: set everything up, or only check it is there.

Set-up creates topics, index templates and indices, which needs admin rights on Kafka and
Elasticsearch. Where `newsstream setup` ran as a Job of its own (the Helm chart's hook),
the worker runs with least privilege (NEWSSTREAM_WORKER_SETUP=false): it checks that every
topic, the articles alias and the other indices exist, and stops with one line that says
what to do when they do not.
"""

from __future__ import annotations

import logging

from elasticsearch import ApiError
from elasticsearch import ConnectionError as EsConnectionError

from streams.elastic import make_client
from streams.elastic.client import unreachable_reason
from streams.errors import ConfigError, SinkError
from streams.kafka.topics import missing_topics
from streams.settings import Settings
from streams.setup import setup_everything

log = logging.getLogger(__name__)


def prepare(settings: Settings) -> None:
    if settings.worker_setup:
        for line in setup_everything(settings):
            log.info("%s", line)
        return
    check_worker_topics(settings)
    check_indices(settings)
    log.info("set-up checked: topics and indices present (NEWSSTREAM_WORKER_SETUP=false)")


def check_worker_topics(settings: Settings) -> None:
    """Stop while a topic the worker reads or writes is missing or not visible to its user.

    The poller's state topic is set-up's but not the worker's: a least-privilege worker
    user has no right on it, not even to see it, so it is not asked for.
    """
    missing = [name for name in missing_topics(settings) if name != settings.topic_poller_state]
    if missing:
        raise ConfigError(
            f"Kafka topics missing or not visible to this user: {', '.join(missing)}; "
            "run `newsstream setup` with admin rights (the Helm chart's setup Job), or grant "
            "Describe on them, or set NEWSSTREAM_WORKER_SETUP=true"
        )


def check_indices(settings: Settings) -> None:
    es = make_client(settings)
    try:
        missing = [
            name
            for name, present in (
                (settings.articles_alias, es.indices.exists_alias(name=settings.articles_alias)),
                (settings.alerts_index, es.indices.exists(index=settings.alerts_index)),
                (settings.fingerprints_index, es.indices.exists(index=settings.fingerprints_index)),
            )
            if not present
        ]
    except (EsConnectionError, ApiError) as exc:
        raise SinkError(unreachable_reason(exc, settings)) from exc
    finally:
        es.close()
    if missing:
        raise ConfigError(
            f"Elasticsearch indices or aliases missing: {', '.join(missing)}; run "
            "`newsstream setup` with admin rights (the Helm chart's setup Job), or set "
            "NEWSSTREAM_WORKER_SETUP=true"
        )
