"""JSON Schemas of the messages, generated from streams.messages.models.

``python -m streams.messages.schema --out schemas`` (``make schemas``) writes
``<message>.schema.json`` for every message in ``MESSAGES``; ``--check`` only reports
the files that differ. Edit the models, never the generated files: a unit test fails
when the committed files drift from what the models generate.

The schemas, and the Elasticsearch index templates next to them, ship in the package
as data (``streams/schemas``, a link to the top-level ``schemas/`` in a clone).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import msgspec
import orjson

from streams.messages.models import (
    Alert,
    AlertPayload,
    DeadLetter,
    DigestPayload,
    EnrichedArticle,
    RawArticle,
)

SCHEMA_DIR: Traversable = files("streams") / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://newsstream.dev/schemas/"

_WEBHOOK_DESCRIPTION = (
    "POSTed as application/json. kind 'alert' carries one alert; kind 'digest' summarises"
    " one rule's alerts of a throttle window. When the target has a secret, the request"
    " carries X-Newsstream-Timestamp and X-Newsstream-Signature (v1=hex HMAC-SHA256 of"
    " '<timestamp>.<raw body>'); every request carries X-Newsstream-Alert-Id."
    " See streams/alerts/signing.py."
)


def _raw_article_on_the_wire(schema: dict[str, Any]) -> dict[str, Any]:
    """What streams.messages.codec.parse_raw_article accepts, beyond RawArticle's types.

    The gate fills in ``id`` and ``title``, so a producer may leave them out (or null);
    it needs non-blank text or html, and a non-blank title or a url; it ignores
    fields it does not know.
    """
    properties = schema["properties"]
    for name in ("id", "title"):
        properties[name] = {"anyOf": [properties[name], {"type": "null"}]}
    del schema["required"]
    schema["allOf"] = [
        {"anyOf": [_non_blank("text"), _non_blank("html")]},
        {"anyOf": [_non_blank("title"), _non_empty("url")]},
    ]
    return schema


def _non_blank(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"type": "string", "pattern": r"\S"}}}


def _non_empty(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}


def _unchanged(schema: dict[str, Any]) -> dict[str, Any]:
    return schema


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Every object closed: a receiver can rely on seeing no undocumented field."""
    for definition in schema["$defs"].values():
        definition["additionalProperties"] = False
    return schema


# file stem -> (the message's types, title, adjustment of the generated schema)
MESSAGES: dict[str, tuple[Sequence[type], str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "raw_article": ((RawArticle,), "Raw article (topic articles.raw)", _raw_article_on_the_wire),
    "enriched_article": (
        (EnrichedArticle,),
        "Enriched article (topic articles.enriched, index news-articles)",
        _unchanged,
    ),
    "alert": (
        (Alert,),
        "Alert (topic alerts); recorded in index news-alerts with delivery status",
        _unchanged,
    ),
    "dead_letter": (
        (DeadLetter,),
        "Dead letter (topics articles.dlq and alerts.dlq)",
        _unchanged,
    ),
    "webhook_payload": (
        (AlertPayload, DigestPayload),
        "Webhook payload (targets of type webhook)",
        _closed,
    ),
}


def message_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one message of ``MESSAGES``, generated from its model(s)."""
    types, title, adjust = MESSAGES[name]
    refs, defs = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    schema: dict[str, Any] = {"$schema": DIALECT, "$id": f"{ID_BASE}{name}.schema.json"}
    if len(types) == 1:
        body = defs.pop(types[0].__name__)
        body.pop("title", None)
        schema.update(title=title, **body)
    else:
        schema.update(title=title, description=_WEBHOOK_DESCRIPTION, oneOf=list(refs))
    if defs:
        schema["$defs"] = dict(sorted(defs.items()))
    return adjust(schema)


def render(schema: dict[str, Any]) -> bytes:
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def generated() -> dict[str, bytes]:
    """File name -> content, for every message."""
    return {f"{name}.schema.json": render(message_schema(name)) for name in MESSAGES}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.messages.schema", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=Path("schemas"), help="default: schemas")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    args = parser.parse_args(argv)
    stale = [
        name
        for name, content in generated().items()
        if not (args.out / name).is_file() or (args.out / name).read_bytes() != content
    ]
    if args.check:
        for name in stale:
            print(f"{args.out / name} differs from the models; run `make schemas`")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in generated().items():
        if name in stale:
            (args.out / name).write_bytes(content)
            print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
