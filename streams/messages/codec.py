"""Bytes on the wire <-> the dataclasses in streams.messages.models. orjson everywhere.

``parse_raw_article`` is the one gate every raw record passes: it validates the
fields the schema requires and assigns the stable article id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from streams.errors import InvalidArticle
from streams.messages.models import (
    Alert,
    EnrichedArticle,
    Entity,
    RawArticle,
    ScoredLabel,
    ScreeningHit,
    TopicMatch,
)

_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ocid|igshid)$", re.I)
_STRING_FIELDS = ("url", "title", "text", "html", "source", "published_at", "language")
_WS = re.compile(r"\s+")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragments, tracking parameters and trailing slashes."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAMS.match(k))
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(
        ("https" if parts.scheme in ("http", "https") else parts.scheme, host, path, query, "")
    )


def normalise_text(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def article_id(*, url: str | None, title: str, text: str | None, html: str | None) -> str:
    """A stable id: from the canonical URL, else from the normalised title and text.

    The same article published twice gets the same id, so a replay overwrites its
    Elasticsearch document instead of adding a second one.
    """
    if url and url.strip():
        basis = "url:" + canonical_url(url)
    else:
        basis = "content:" + normalise_text(title) + "\n" + normalise_text(text or html or "")
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def parse_raw_article(data: bytes | str | dict[str, Any]) -> RawArticle:
    """Validate one raw record; raise InvalidArticle saying what is wrong."""
    if isinstance(data, dict):
        record = data
    else:
        try:
            record = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidArticle(f"not valid JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise InvalidArticle(f"expected a JSON object, got {type(record).__name__}")
    for name in _STRING_FIELDS:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidArticle(f"field {name!r} must be a string, got {type(value).__name__}")
    title = (record.get("title") or "").strip()
    text, html = record.get("text"), record.get("html")
    if not (text and text.strip()) and not (html and html.strip()):
        raise InvalidArticle("article has neither 'text' nor 'html'")
    if not title and not record.get("url"):
        raise InvalidArticle("article has neither 'title' nor 'url'")
    given_id = record.get("id")
    if given_id is not None and (not isinstance(given_id, str) or not given_id.strip()):
        raise InvalidArticle("field 'id', when given, must be a non-empty string")
    return RawArticle(
        id=given_id or article_id(url=record.get("url"), title=title, text=text, html=html),
        title=title,
        url=record.get("url"),
        text=text,
        html=html,
        source=record.get("source"),
        published_at=record.get("published_at"),
        language=record.get("language"),
    )


def enriched_from_json(data: bytes | dict[str, Any]) -> EnrichedArticle:
    """Rebuild an EnrichedArticle from its JSON form (what ``articles.enriched`` carries)."""
    record = orjson.loads(data) if isinstance(data, bytes) else data
    if not isinstance(record, dict):
        raise InvalidArticle("enriched record is not a JSON object")
    try:
        return EnrichedArticle(
            **{
                **record,
                "entities": [
                    Entity(e["name"], e["label"], [(s[0], s[1]) for s in e["spans"]], e["count"])
                    for e in record.get("entities", [])
                ],
                "categories": [ScoredLabel(**c) for c in record.get("categories", [])],
                "topics": [TopicMatch(**t) for t in record.get("topics", [])],
                "screening": [ScreeningHit(**h) for h in record.get("screening", [])],
            }
        )
    except (TypeError, KeyError) as exc:
        raise InvalidArticle(f"enriched record does not match the schema: {exc}") from exc


def alert_from_json(data: bytes) -> Alert:
    record = orjson.loads(data)
    try:
        return Alert(**record)
    except TypeError as exc:
        raise InvalidArticle(f"alert record does not match the schema: {exc}") from exc
