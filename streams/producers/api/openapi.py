"""The OpenAPI 3.1 document served at ``/openapi.json``, written by hand.

The article's schema is not repeated here: the generated
``streams/schemas/raw_article.schema.json`` (from the RawArticle model) is embedded as
``components.schemas.RawArticle``, so the document cannot drift from the codec.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import orjson

from streams import __version__
from streams.producers.api.intake import JSON, NDJSON, PROBLEM, SHOWN_ERRORS

_REF = "#/components/schemas/"


def raw_article_schema() -> dict[str, Any]:
    text = (files("streams") / "schemas" / "raw_article.schema.json").read_bytes()
    schema: dict[str, Any] = orjson.loads(text)
    return schema


def _problem_response(description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": _REF + "Problem"}}},
        **extra,
    }


_PUSH = {
    "summary": "Publish articles to articles.raw",
    "description": (
        "One article (application/json) or a batch, one article a line "
        "(application/x-ndjson; blank lines are skipped, lines are numbered from 1). "
        "All or nothing: when any line is not a valid article the answer is 422 listing "
        "them and nothing of the request is published. 202 comes once Kafka acknowledged "
        "every record (acks=all). Records are keyed by article id; the value is the "
        "validated article with its id filled in and unknown fields dropped. After a 503 "
        "some articles of the request may have been published: send the whole request "
        "again (ids are stable, so the repeat overwrites)."
    ),
    "operationId": "pushArticles",
    "security": [{"bearer": []}],
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": {"$ref": _REF + "RawArticle"}},
            NDJSON: {
                "schema": {
                    "type": "string",
                    "description": "Lines of JSON, each a RawArticle.",
                },
            },
        },
    },
    "responses": {
        "202": {
            "description": "Every article acknowledged by Kafka.",
            "content": {JSON: {"schema": {"$ref": _REF + "Accepted"}}},
        },
        "401": _problem_response(
            "No or an unknown bearer token.",
            headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
        ),
        "413": _problem_response("The body exceeds NEWSSTREAM_API_MAX_BYTES."),
        "415": _problem_response("Neither application/json nor application/x-ndjson."),
        "422": _problem_response(
            "Invalid articles; nothing was published.",
        ),
        "503": _problem_response(
            "Kafka is unreachable or did not acknowledge in time; try again later.",
            headers={
                "Retry-After": {
                    "description": "Seconds to wait.",
                    "schema": {"type": "integer"},
                }
            },
        ),
    },
}

_SCHEMAS: dict[str, Any] = {
    "Accepted": {
        "type": "object",
        "required": ["accepted", "ids"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 1},
            "ids": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The article ids, in request order.",
            },
        },
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["title", "status", "detail"],
        "properties": {
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "invalid_lines": {"type": "integer", "description": "422: how many lines failed."},
            "errors": {
                "type": "array",
                "description": f"422: the bad lines (at most {SHOWN_ERRORS}).",
                "items": {
                    "type": "object",
                    "required": ["line", "reason"],
                    "properties": {
                        "line": {"type": "integer", "minimum": 1},
                        "reason": {"type": "string"},
                    },
                },
            },
            "retry_after": {"type": "integer", "description": "503: seconds to wait."},
            "max_bytes": {"type": "integer", "description": "413: the limit."},
        },
    },
}


def _page(summary: str, media: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    content = {media: {"schema": schema}} if schema else {media: {}}
    return {
        "get": {"summary": summary, "responses": {"200": {"description": "OK", "content": content}}}
    }


def openapi_document() -> dict[str, Any]:
    ready = {"type": "object", "properties": {"ready": {"type": "boolean"}}}
    readyz = _page("Readiness: 200 while the Kafka producer is connected, else 503.", JSON, ready)
    readyz["get"]["responses"]["503"] = {"description": "Kafka unreachable."}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "newsstream push API",
            "version": __version__,
            "description": "Push news articles onto the pipeline's raw topic.",
        },
        "paths": {
            "/v1/articles": {"post": _PUSH},
            "/healthz": _page("Liveness.", JSON),
            "/readyz": readyz,
            "/metrics": _page("Prometheus metrics.", "text/plain"),
            "/openapi.json": _page("This document.", JSON),
        },
        "components": {
            "schemas": {"RawArticle": raw_article_schema(), **_SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
