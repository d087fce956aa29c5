"""Index templates, the articles alias, the alerts and fingerprints indices, idempotently.

The templates live in schemas/elasticsearch/ and are read from the package data
(``streams/schemas``), so a clone, a wheel and the container image use the same files
whatever the working directory. What a node offers varies: the integ-test distribution
lacks analysis-common, so the english analyzer is added as a ``body.english`` sub-field
only where the node has it.

Shards and replicas are settings, not part of the shipped templates: one replica on a
real cluster, none on the single local node. Where the cluster has ILM, the articles
template names the lifecycle policy (streams/elastic/lifecycle.py).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any

import orjson
from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError

from streams.elastic.lifecycle import Lifecycle, ilm_operation_mode, install_policy
from streams.errors import SinkError
from streams.messages.schema import SCHEMA_DIR

log = logging.getLogger(__name__)

TEMPLATE_DIR: Traversable = SCHEMA_DIR / "elasticsearch"


def load_template(name: str) -> dict[str, Any]:
    """The index template ``schemas/elasticsearch/<name>.template.json`` as shipped."""
    path = TEMPLATE_DIR / f"{name}.template.json"
    if not path.is_file():
        raise SinkError(f"index template {name!r} not found in {TEMPLATE_DIR}")
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def node_modules(es: Elasticsearch) -> set[str]:
    """Names of the modules and plugins every node has (e.g. 'analysis-common')."""
    nodes = es.nodes.info(metric="plugins,modules")["nodes"]
    per_node = [
        {m["name"] for m in node.get("modules", [])} | {p["name"] for p in node.get("plugins", [])}
        for node in nodes.values()
    ]
    return set.intersection(*per_node) if per_node else set()


def with_shards(template: dict[str, Any], *, shards: int, replicas: int) -> dict[str, Any]:
    template["template"]["settings"].update(number_of_shards=shards, number_of_replicas=replicas)
    return template


def articles_template(
    modules: set[str], *, alias: str, shards: int, replicas: int, ilm_policy: str | None = None
) -> dict[str, Any]:
    template = with_shards(
        copy.deepcopy(load_template("news-articles")), shards=shards, replicas=replicas
    )
    template["index_patterns"] = [f"{alias}-*"]
    if "analysis-common" in modules:
        body = template["template"]["mappings"]["properties"]["body"]
        body["fields"] = {"english": {"type": "text", "analyzer": "english"}}
        title = template["template"]["mappings"]["properties"]["title"]
        title["fields"]["english"] = {"type": "text", "analyzer": "english"}
    if ilm_policy:
        template["template"]["settings"].update(ilm_settings(ilm_policy, alias))
    return template


def ilm_settings(policy: str, alias: str) -> dict[str, str]:
    """What makes ILM manage an articles index: the policy, and the alias it rolls over."""
    return {"index.lifecycle.name": policy, "index.lifecycle.rollover_alias": alias}


def alerts_template(*, index: str, shards: int, replicas: int) -> dict[str, Any]:
    template = with_shards(
        copy.deepcopy(load_template("news-alerts")), shards=shards, replicas=replicas
    )
    template["index_patterns"] = [index, f"{index}-*"]
    return template


def fingerprints_template(*, index: str, shards: int, replicas: int) -> dict[str, Any]:
    template = with_shards(
        copy.deepcopy(load_template("news-fingerprints")), shards=shards, replicas=replicas
    )
    template["index_patterns"] = [index]
    return template


def settings_updates(
    current: Mapping[str, Any],
    *,
    replicas: int,
    articles: set[str],
    alias: str,
    ilm_policy: str | None,
) -> dict[str, dict[str, Any]]:
    """Settings to change on existing indices, from ``GET <indices>/_settings``.

    Templates only shape new indices: a changed replica count, or ILM on a cluster that
    gained it, must reach the indices already there. (Shards cannot change in place:
    articles get the new count at the next rollover.)
    """
    updates: dict[str, dict[str, Any]] = {}
    for name, body in current.items():
        index = body.get("settings", {}).get("index", {})
        change: dict[str, Any] = {}
        if int(index.get("number_of_replicas", replicas)) != replicas:
            change["number_of_replicas"] = replicas
        if ilm_policy and name in articles and not index.get("lifecycle", {}).get("name"):
            change.update(ilm_settings(ilm_policy, alias))
        if change:
            updates[name] = change
    return updates


@dataclass(frozen=True, slots=True)
class IndexSetup:
    """What ``ensure_indices`` did."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # existing indices whose settings changed
    ilm_policy: str | None = None  # the installed policy; None: the cluster has no ILM
    ilm_running: bool = True


def ensure_indices(
    es: Elasticsearch,
    *,
    articles_alias: str,
    alerts_index: str,
    fingerprints_index: str,
    shards: int,
    replicas: int,
    lifecycle: Lifecycle,
) -> IndexSetup:
    """Templates (and the ILM policy where ILM exists), the first articles index behind its
    alias, the alerts and fingerprints indices; existing indices follow the replica count.

    Safe to run any number of times.
    """
    created: list[str] = []
    try:
        modules = node_modules(es)
        mode = ilm_operation_mode(es)
        policy = install_policy(es, alias=articles_alias, lifecycle=lifecycle) if mode else None
        es.indices.put_index_template(
            name=articles_alias,
            **articles_template(
                modules, alias=articles_alias, shards=shards, replicas=replicas, ilm_policy=policy
            ),
        )
        es.indices.put_index_template(
            name=alerts_index,
            **alerts_template(index=alerts_index, shards=shards, replicas=replicas),
        )
        es.indices.put_index_template(
            name=fingerprints_index,
            **fingerprints_template(index=fingerprints_index, shards=shards, replicas=replicas),
        )
        if not es.indices.exists_alias(name=articles_alias):
            first = f"{articles_alias}-000001"
            if _create(es, first, aliases={articles_alias: {"is_write_index": True}}):
                created.append(first)
        for index in (alerts_index, fingerprints_index):
            if not es.indices.exists(index=index) and _create(es, index):
                created.append(index)
        articles = set(es.indices.get_alias(name=articles_alias).body)
        current = es.indices.get_settings(
            index=[*sorted(articles), alerts_index, fingerprints_index]
        )
        updates = settings_updates(
            current.body,
            replicas=replicas,
            articles=articles,
            alias=articles_alias,
            ilm_policy=policy,
        )
        for name, change in sorted(updates.items()):
            es.indices.put_settings(index=name, settings=change)
    except EsConnectionError as exc:
        raise SinkError(
            f"cannot reach Elasticsearch ({exc}); is it running? "
            "Try `make up` or check NEWSSTREAM_ES_URL"
        ) from exc
    except ApiError as exc:
        raise SinkError(f"Elasticsearch refused the index set-up: {exc}") from exc
    if "analysis-common" not in modules:
        log.info(
            "Elasticsearch has no analysis-common module: "
            "body is indexed with the standard analyzer only"
        )
    return IndexSetup(
        created=created,
        updated=sorted(updates),
        ilm_policy=policy,
        ilm_running=mode in (None, "RUNNING"),
    )


def _create(es: Elasticsearch, index: str, **body: Any) -> bool:
    """Create ``index``; False when another ``setup`` (a second worker) was first."""
    try:
        es.indices.create(index=index, **body)
    except ApiError as exc:
        if _already_exists(exc):
            return False
        raise
    return True


def _already_exists(exc: ApiError) -> bool:
    return exc.meta.status == 400 and "resource_already_exists_exception" in str(exc)
