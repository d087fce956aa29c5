"""Index templates, the articles alias and the alerts index, created idempotently.

The templates live in schemas/elasticsearch/ and are read from the package data
(``streams/schemas``), so a clone, a wheel and the container image use the same files
whatever the working directory. What a node offers varies: the integ-test distribution
lacks analysis-common, so the english analyzer is added as a ``body.english`` sub-field
only where the node has it.
"""

from __future__ import annotations

import copy
import logging
from importlib.resources.abc import Traversable
from typing import Any

import orjson
from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError

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


def articles_template(modules: set[str], *, alias: str) -> dict[str, Any]:
    template = copy.deepcopy(load_template("news-articles"))
    template["index_patterns"] = [f"{alias}-*"]
    if "analysis-common" in modules:
        body = template["template"]["mappings"]["properties"]["body"]
        body["fields"] = {"english": {"type": "text", "analyzer": "english"}}
        title = template["template"]["mappings"]["properties"]["title"]
        title["fields"]["english"] = {"type": "text", "analyzer": "english"}
    return template


def alerts_template(*, index: str) -> dict[str, Any]:
    template = copy.deepcopy(load_template("news-alerts"))
    template["index_patterns"] = [index, f"{index}-*"]
    return template


def fingerprints_template(*, index: str) -> dict[str, Any]:
    template = copy.deepcopy(load_template("news-fingerprints"))
    template["index_patterns"] = [index]
    return template


def ensure_indices(
    es: Elasticsearch, *, articles_alias: str, alerts_index: str, fingerprints_index: str
) -> list[str]:
    """Create templates, the first articles index behind its alias, and the alerts index.

    Safe to run any number of times; returns what it created.
    """
    created: list[str] = []
    try:
        modules = node_modules(es)
        es.indices.put_index_template(
            name=articles_alias, **articles_template(modules, alias=articles_alias)
        )
        es.indices.put_index_template(name=alerts_index, **alerts_template(index=alerts_index))
        es.indices.put_index_template(
            name=fingerprints_index, **fingerprints_template(index=fingerprints_index)
        )
        if not es.indices.exists_alias(name=articles_alias):
            first = f"{articles_alias}-000001"
            es.indices.create(index=first, aliases={articles_alias: {"is_write_index": True}})
            created.append(first)
        for index in (alerts_index, fingerprints_index):
            if not es.indices.exists(index=index):
                es.indices.create(index=index)
                created.append(index)
    except EsConnectionError as exc:
        raise SinkError(
            f"cannot reach Elasticsearch ({exc}); is it running? "
            "Try `make up` or check NEWSSTREAM_ES_URL"
        ) from exc
    except ApiError as exc:
        if _already_exists(exc):
            return created
        raise SinkError(f"Elasticsearch refused the index set-up: {exc}") from exc
    if "analysis-common" not in modules:
        log.info(
            "Elasticsearch has no analysis-common module: "
            "body is indexed with the standard analyzer only"
        )
    return created


def _already_exists(exc: ApiError) -> bool:
    return exc.meta.status == 400 and "resource_already_exists_exception" in str(exc)
