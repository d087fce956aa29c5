"""What a push request holds, judged without I/O: the bearer token, the body's articles,
and the problem documents the API answers with.

A request is all or nothing: ``read_articles`` returns the records to publish only when
every article in the body passed ``streams.messages.parse_raw_article`` (the gate every
producer's records pass in the worker, size limit included: NEWSSTREAM_MAX_ARTICLE_BYTES);
otherwise it returns every bad line with its 1-based number and the reason, and nothing
is published.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streams.errors import InvalidArticle
from streams.messages import DEFAULT_MAX_ARTICLE_BYTES, dumps, parse_raw_article

JSON = "application/json"
NDJSON = "application/x-ndjson"
CONTENT_TYPES = (JSON, NDJSON)
PROBLEM = "application/problem+json"
REALM = "newsstream"
# A 422 lists at most this many bad lines (and counts them all).
SHOWN_ERRORS = 100


@dataclass(frozen=True, slots=True)
class Record:
    """One validated article, ready for ``articles.raw``: keyed by its id."""

    line: int
    id: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Articles:
    """The body's articles in request order, or why it is refused (``errors`` not empty)."""

    records: list[Record]
    errors: list[LineError]


def parse_tokens(setting: str) -> tuple[bytes, ...]:
    """The accepted bearer tokens from ``NEWSSTREAM_API_TOKENS`` (comma-separated)."""
    return tuple(token.strip().encode() for token in setting.split(",") if token.strip())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_accepted(given: str | None, tokens: Sequence[bytes]) -> bool:
    """Whether ``given`` is one of ``tokens``, compared in constant time with each of them
    (no early exit, so the time does not tell which token came close)."""
    if given is None:
        return False
    candidate = given.encode()
    matches = [hmac.compare_digest(candidate, token) for token in tokens]
    return any(matches)


def read_articles(
    body: bytes, *, ndjson: bool, max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES
) -> Articles:
    """Validate every article of a JSON body (one article, line 1) or an NDJSON body (one
    article a line; blank lines are skipped but counted). An article over
    ``max_article_bytes`` is a bad line: one Kafka record must hold it (the producer's
    request size and the topic's max.message.bytes leave room for its key and headers)."""
    lines = body.split(b"\n") if ndjson else [body]
    records: list[Record] = []
    errors: list[LineError] = []
    for number, line in enumerate(lines, start=1):
        if ndjson and not line.strip():
            continue
        try:
            records.append(to_record(number, line, max_article_bytes=max_article_bytes))
        except InvalidArticle as exc:
            errors.append(LineError(number, str(exc)))
    if not records and not errors:
        errors.append(LineError(1, "the body holds no article"))
    return Articles(records=[] if errors else records, errors=errors)


def to_record(number: int, line: bytes, *, max_article_bytes: int) -> Record:
    """The validated article re-encoded: the id filled in, the title trimmed, fields the
    model does not know dropped. InvalidArticle if it is not valid or too large."""
    article = parse_raw_article(line, max_bytes=max_article_bytes)
    value = dumps(article)
    return Record(line=number, id=article.id, key=article.id.encode(), value=value)


def problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """An RFC 9457 problem document (served as application/problem+json)."""
    return {"title": title, "status": status, "detail": detail, **extra}


def invalid_articles(errors: Sequence[LineError]) -> dict[str, Any]:
    shown = errors[:SHOWN_ERRORS]
    more = f" (the first {len(shown)} are listed)" if len(errors) > len(shown) else ""
    return problem(
        422,
        "Invalid articles",
        f"{len(errors)} line(s) are not valid articles{more}; nothing of this request "
        "was published",
        invalid_lines=len(errors),
        errors=[{"line": e.line, "reason": e.reason} for e in shown],
    )


def unauthorized(given: str | None) -> tuple[dict[str, Any], str]:
    """The 401 body and its WWW-Authenticate header (RFC 6750)."""
    if given is None:
        detail = "send the header 'Authorization: Bearer <token>'"
        return problem(401, "Unauthorized", detail), f'Bearer realm="{REALM}"'
    body = problem(401, "Unauthorized", "the bearer token is not accepted")
    return body, f'Bearer realm="{REALM}", error="invalid_token"'


def too_large(max_bytes: int) -> dict[str, Any]:
    return problem(
        413,
        "Payload too large",
        f"the body is larger than {max_bytes:,} bytes (NEWSSTREAM_API_MAX_BYTES); "
        "split it into several requests",
        max_bytes=max_bytes,
    )


def unsupported_type(content_type: str) -> dict[str, Any]:
    return problem(
        415,
        "Unsupported media type",
        f"Content-Type {content_type or '(none)'!r}: send {JSON} (one article) or "
        f"{NDJSON} (one article a line)",
    )


def kafka_unavailable(reason: str, retry_after: int) -> dict[str, Any]:
    return problem(
        503,
        "Kafka unavailable",
        f"{reason}; try the whole request again in {retry_after} s (articles of this "
        "request may have been published already: ids are stable, so a repeat overwrites)",
        retry_after=retry_after,
    )


def accepted(records: Sequence[Record]) -> dict[str, Any]:
    return {"accepted": len(records), "ids": [r.id for r in records]}
