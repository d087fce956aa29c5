"""`newsstream rules test`: which rules fire on an article, and why. Sends nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from streams.alerts.rules import format_explanations, load_rules
from streams.clock import utc_now
from streams.errors import InvalidArticle
from streams.messages import EnrichedArticle, enriched_from_json, parse_raw_article
from streams.settings import Settings


def read_article(path: Path) -> dict[str, Any]:
    """A JSON object, or the first line of a JSON Lines file."""
    data = path.read_bytes().strip()
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        record = orjson.loads(data.splitlines()[0]) if data else None
    if not isinstance(record, dict):
        raise InvalidArticle(f"{path}: expected a JSON object (a raw or an enriched article)")
    return record


def as_enriched(record: dict[str, Any], settings: Settings) -> EnrichedArticle:
    """An enriched article as it is, a raw one enriched first (same code as the worker)."""
    if "entities" in record and "body" in record:
        return enriched_from_json(record)
    from streams.enrich import Enricher

    article = parse_raw_article(record, max_bytes=settings.max_article_bytes)
    return Enricher.from_settings(settings).enrich(article, ingested_at=utc_now())


def explain_file(
    rules_file: Path, article_file: Path, settings: Settings, *, environ: Mapping[str, str]
) -> str:
    rules = load_rules(
        rules_file,
        environ=environ,
        default_webhook_url=settings.webhook_url,
        default_webhook_secret=str(settings.webhook_secret),
    )
    article = as_enriched(read_article(article_file), settings)
    header = f"{article.title or article.id}  ({len(rules.rules)} rules from {rules_file})"
    return header + "\n\n" + format_explanations(rules.explain(article))
