"""From feed bytes to raw articles (pure: no I/O).

``parse_feed`` reads RSS 0.9x/1.0/2.0 and Atom with feedparser: the encoding from the
HTTP header, the XML declaration or a guess (ISO-8859-1 without a declaration reads as
windows-1252), relative links resolved against ``xml:base`` or the feed's URL. A document
feedparser finds no feed in is a FeedError ("malformed"); a feed with a recoverable flaw
(a wrong encoding declaration, a stray tag) is read as far as it goes.

``entry_to_article`` turns one entry into a RawArticle with the same stable id every
producer gets (``parse_raw_article``: from the canonical URL): the entry's link (or a
permalink guid), its title as text, its content or summary as plain text (paragraphs
kept as lines), ``published_at`` in UTC ISO 8601 and a language hint. An item over
``NEWSSTREAM_MAX_ARTICLE_BYTES`` is invalid like one without text; ``with_page`` adds a
fetched page's html only when the article still fits.
"""

from __future__ import annotations

import calendar
import dataclasses
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from streams.errors import FeedError
from streams.messages import DEFAULT_MAX_ARTICLE_BYTES, RawArticle, dumps, parse_raw_article
from streams.producers.feeds.config import FeedConfig

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_BLOCKS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
    | {"section", "article", "header", "footer", "ul", "ol", "table", "dt", "dd", "figcaption"}
)
_SKIPPED = frozenset({"script", "style", "noscript", "template"})
_WEEKDAY = re.compile(r"^\s*[^\W\d_]{2,}\.?,?\s*(?=\d)")
_WORD = re.compile(r"[^\W\d_]+\.?")
_MONTHS = {
    "jan": ("jan", "janv", "januar", "janvier", "ene", "enero", "gen", "gennaio", "jänner"),
    "feb": ("feb", "febr", "februar", "févr", "fév", "février", "febrero", "febbraio"),
    "mar": ("mar", "mär", "märz", "mrt", "maart", "mars", "marzo"),
    "apr": ("apr", "april", "avr", "avril", "abr", "abril", "aprile"),
    "may": ("may", "mai", "mei", "mayo", "mag", "maggio"),
    "jun": ("jun", "juni", "juin", "junio", "giu", "giugno"),
    "jul": ("jul", "juli", "juil", "juillet", "julio", "lug", "luglio"),
    "aug": ("aug", "august", "août", "ago", "agosto", "augustus"),
    "sep": ("sep", "sept", "september", "septembre", "septiembre", "set", "settembre"),
    "oct": ("oct", "okt", "oktober", "octobre", "octubre", "ott", "ottobre"),
    "nov": ("nov", "november", "novembre", "noviembre"),
    "dec": ("dec", "dez", "dezember", "déc", "décembre", "dic", "diciembre", "dicembre"),
}
_MONTH_OF = {word: english for english, words in _MONTHS.items() for word in words}
# Zones email.utils does not know (it knows UT, GMT, Z and the US zones).
_ZONES = {"mez": "+0100", "mesz": "+0200", "cet": "+0100", "cest": "+0200", "bst": "+0100"}
_ZONES |= {"wet": "+0000", "west": "+0100", "eet": "+0200", "eest": "+0300", "jst": "+0900"}


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    language: str | None
    entries: list[Mapping[str, Any]]


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    # A file object: feedparser would take bytes that look like a path or URL for one.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception") or "no RSS or Atom document found"
        raise FeedError(f"malformed feed: {problem}")
    feed = parsed.get("feed", {})
    return ParsedFeed(
        title=str(feed.get("title") or ""),
        language=feed.get("language") or None,
        entries=list(parsed.entries),
    )


def entry_to_article(
    entry: Mapping[str, Any],
    *,
    feed: FeedConfig,
    feed_language: str | None,
    max_bytes: int = DEFAULT_MAX_ARTICLE_BYTES,
) -> RawArticle:
    """The entry as a raw article; InvalidArticle when it has no link and title, no text,
    or is larger than ``max_bytes`` as published."""
    record = {
        "url": entry_url(entry, base=feed.url),
        "title": _title(entry),
        "text": _content(entry) or None,
        "source": feed.source,
        "published_at": entry_date(entry),
        "language": language_code(feed.language or _entry_language(entry) or feed_language),
    }
    return parse_raw_article(record, max_bytes=max_bytes)


def with_page(
    article: RawArticle, html: str, *, max_bytes: int = DEFAULT_MAX_ARTICLE_BYTES
) -> tuple[RawArticle, str | None]:
    """The article with its page's html, or as it was and why not: the page would make it
    larger than ``max_bytes``, and the feed's text is better than no article."""
    paged = dataclasses.replace(article, html=html)
    size = len(dumps(paged))
    if size <= max_bytes:
        return paged, None
    return article, (
        f"with its page the article would be {size:,} bytes, over "
        f"NEWSSTREAM_MAX_ARTICLE_BYTES ({max_bytes:,})"
    )


def entry_url(entry: Mapping[str, Any], *, base: str) -> str | None:
    """The entry's link, or its guid when that is a URL; relative ones resolved."""
    guid = entry.get("id") if entry.get("guidislink", True) else None
    for candidate in (entry.get("link"), guid):
        if isinstance(candidate, str) and candidate.strip():
            url = urljoin(base, candidate.strip())
            if urlsplit(url).scheme in ("http", "https"):
                return url
    return None


def entry_date(entry: Mapping[str, Any]) -> str | None:
    """When the entry was published (else updated), UTC ISO 8601; None if no date reads."""
    # dict.get: feedparser's own get() maps a missing `updated` to `published`, with a warning
    fields = dict(entry)
    for name in ("published", "updated", "created"):
        parsed = fields.get(f"{name}_parsed")
        if parsed:  # feedparser's reading, already in UTC
            return _iso(datetime.fromtimestamp(calendar.timegm(parsed), UTC))
        normalised = normalise_date(fields.get(name))
        if normalised:
            return normalised
    return None


def normalise_date(text: str | None) -> str | None:
    """ISO 8601, RFC 822 (also with German, French, Spanish, Italian or Dutch month and day
    names and European zone names) → ``YYYY-MM-DDTHH:MM:SSZ``; None when it does not read.
    A time without a zone is taken as UTC."""
    if not text or not text.strip():
        return None
    text = " ".join(text.split())
    when = _from_iso(text) or _from_rfc822(text) or _from_rfc822(_anglicise(text))
    if when is None or not 1900 <= when.year <= 2200:
        return None
    return _iso(when)


def _from_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(re.sub(r"\s+(?=[+-]\d\d:?\d\d$|Z$)", "", text))
    except ValueError:
        return None


def _from_rfc822(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _anglicise(text: str) -> str:
    """Drop the weekday; localised month and zone names → the English ones."""
    text = _WEEKDAY.sub("", text.casefold())

    def word(match: re.Match[str]) -> str:
        token = match.group(0).rstrip(".")
        return _MONTH_OF.get(token) or _ZONES.get(token) or match.group(0)

    return re.sub(r"\b(\d{1,2})\.(?=\s)", r"\1", _WORD.sub(word, text))  # "8. Dezember"


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def language_code(tag: str | None) -> str | None:
    """``en-GB`` / ``EN_us`` / ``en`` → ``en``; anything else → None."""
    code = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def _title(entry: Mapping[str, Any]) -> str:
    title = str(entry.get("title") or "")
    detail = entry.get("title_detail") or {}
    return html_to_text(title) if detail.get("type") in _HTML_TYPES else title.strip()


def _content(entry: Mapping[str, Any]) -> str:
    """The fullest of the entry's content and summary, as text."""
    parts = [*(entry.get("content") or []), entry.get("summary_detail")]
    texts = [_as_text(part) for part in parts if part and part.get("value")]
    return max(texts, key=len, default="")


def _as_text(part: Mapping[str, Any]) -> str:
    value = str(part.get("value") or "")
    return html_to_text(value) if part.get("type") in _HTML_TYPES else value.strip()


def _entry_language(entry: Mapping[str, Any]) -> str | None:
    for part in [*(entry.get("content") or []), entry.get("summary_detail")]:
        if part and part.get("language"):
            return str(part["language"])
    return None


def html_to_text(html: str) -> str:
    """Text of an HTML fragment: block elements become line breaks, scripts are dropped."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
