"""Bytes on the wire <-> the dataclasses in streams.messages.models.

orjson is the codec both ways; msgspec only checks the decoded object against the
model (``msgspec.convert``). Every ``*_from_json`` function and ``parse_raw_article``
raise InvalidRecord (InvalidArticle for articles) for any bad input, with a message
naming the field and what was expected, so the worker can dead-letter the record.

``parse_raw_article`` is the one gate every raw record passes: on top of the model's
types it requires non-blank text or html and a title or a url, a safe id when the
producer gives one, and at most ``max_bytes`` (``NEWSSTREAM_MAX_ARTICLE_BYTES``), and it
assigns the stable article id when the producer gave none (``streams.messages.limits``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
import orjson

from streams.errors import InvalidArticle, InvalidRecord
from streams.messages.limits import DEFAULT_MAX_ARTICLE_BYTES, id_problem, too_large
from streams.messages.models import Alert, DeadLetter, EnrichedArticle, RawArticle

T = TypeVar("T")

_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ocid|igshid)$", re.I)
_WS = re.compile(r"\s+")
# Stands in for a missing id until the content it is derived from has been validated.
_PENDING_ID = "pending"


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    """Any JSON value; InvalidRecord if ``data`` is not JSON (or not UTF-8)."""
    return _loads(data, InvalidRecord)


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


def parse_raw_article(
    data: bytes | str | dict[str, Any], *, max_bytes: int = DEFAULT_MAX_ARTICLE_BYTES
) -> RawArticle:
    """Validate one raw record; raise InvalidArticle saying what is wrong.

    Bytes and text over ``max_bytes`` are refused before they are parsed; a dict (a
    producer's own record) is measured as it will be published. Fields the model does
    not know are ignored.
    """
    if isinstance(data, bytes | str):
        size = len(data) if isinstance(data, bytes) else _utf8_size(data)
        if size > max_bytes:
            raise InvalidArticle(too_large(size, max_bytes))
    record = _json_object(data, InvalidArticle)
    given_id = record.get("id")
    if given_id is not None and (problem := id_problem(given_id)):
        raise InvalidArticle(problem)
    title = record.get("title")
    raw = _convert(
        {**record, "id": given_id or _PENDING_ID, "title": "" if title is None else title},
        RawArticle,
        InvalidArticle,
    )
    if not _has_text(raw.text) and not _has_text(raw.html):
        raise InvalidArticle("article has neither 'text' nor 'html'")
    title = raw.title.strip()
    if not title and not raw.url:
        raise InvalidArticle("article has neither 'title' nor 'url'")
    stable_id = given_id or article_id(url=raw.url, title=title, text=raw.text, html=raw.html)
    article = dataclasses.replace(raw, id=stable_id, title=title)
    if isinstance(data, dict) and (size := len(dumps(article))) > max_bytes:
        raise InvalidArticle(too_large(size, max_bytes))
    return article


def enriched_from_json(data: bytes | dict[str, Any]) -> EnrichedArticle:
    """An EnrichedArticle from its JSON form (what ``articles.enriched`` carries)."""
    return _convert(
        _json_object(data, InvalidArticle), EnrichedArticle, InvalidArticle, "enriched record"
    )


def alert_from_json(data: bytes | dict[str, Any]) -> Alert:
    """An Alert from its JSON form (what ``alerts`` carries)."""
    return _convert(_json_object(data, InvalidRecord), Alert, InvalidRecord, "alert record")


def dead_letter_from_json(data: bytes | dict[str, Any]) -> DeadLetter:
    """A DeadLetter from its JSON form (what ``articles.dlq`` and ``alerts.dlq`` carry)."""
    return _convert(
        _json_object(data, InvalidRecord), DeadLetter, InvalidRecord, "dead letter record"
    )


def _utf8_size(text: str) -> int:
    # surrogatepass: a lone surrogate still has a size; the parser refuses it next.
    return len(text.encode("utf-8", "surrogatepass"))


def _has_text(value: str | None) -> bool:
    return bool(value and value.strip())


def _loads(data: Any, error: type[InvalidRecord]) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:  # also what orjson raises for non-UTF-8 and non-bytes
        raise error(f"not valid JSON: {exc}") from exc


def _json_object(data: Any, error: type[InvalidRecord]) -> dict[str, Any]:
    record = data if isinstance(data, dict) else _loads(data, error)
    if not isinstance(record, dict):
        raise error(f"expected a JSON object, got {_json_type(record)}")
    return record


def _convert(
    record: dict[str, Any], model: type[T], error: type[InvalidRecord], what: str = ""
) -> T:
    try:
        return msgspec.convert(record, type=model, strict=True)
    except msgspec.ValidationError as exc:
        detail = _describe(exc)
        raise error(f"{what} does not match the schema: {detail}" if what else detail) from exc


# msgspec says "Expected `str | null`, got `int` - at `$.text`"; an operator reading
# the DLQ should see "field 'text' must be a string or null, got integer".
_LOCATED = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.S)
_EXPECTED = re.compile(r"^Expected `(?P<types>[^`]+)`(?P<detail>[^,]*)(?:, got `?(?P<got>.*?)`?)?$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_NOUNS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}
_JSON_NAMES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}


def _describe(exc: msgspec.ValidationError) -> str:
    """A msgspec validation error in words: which field, what was expected, what came."""
    located = _LOCATED.match(str(exc))
    message, path = (located["message"], located["path"]) if located else (str(exc), None)
    if missing := _MISSING.match(message):
        return f"missing required field {(f'{path}.' if path else '') + missing['name']!r}"
    subject = f"field {path!r}" if path else "record"
    if expected := _EXPECTED.match(message):
        types = " or ".join(_NOUNS.get(t, f"`{t}`") for t in expected["types"].split(" | "))
        got = (
            f", got {_JSON_NAMES.get(expected['got'], expected['got'])}" if expected["got"] else ""
        )
        return f"{subject} must be {types}{expected['detail']}{got}"
    return f"{subject}: {message}" if path else message


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "boolean"), (int | float, "number"), (str, "string")):
        if isinstance(value, kind):
            return name
    return {list: "array", type(None): "null"}.get(type(value), type(value).__name__)
