"""A clean article body from HTML (trafilatura) or from scraped plain text (heuristics).

Scraped text mixes the story with page furniture: navigation words ("More Articles",
"Latest"), copy-protection notices, an author bio, and headlines of other articles
dropped between paragraphs. The story, its subheadings and its quotes are kept.

Each line is classified on its own shape, never on site-specific strings:

* furniture: a short line that is a known web-interface phrase;
* byline: "By Jane Doe" -> ``author``;
* author bio: a paragraph "<Name> is a ... editor/journalist/..." plus lines that only
  repeat that name -> dropped, the name becomes ``author``;
* related headline: a long line without closing punctuation in sentence case (a
  subheading is short or in Title Case) -> dropped;
* the article title repeated at the top -> ``title``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import trafilatura

from streams.errors import EnrichmentError


@dataclass(frozen=True, slots=True)
class CleanText:
    body: str
    title: str | None = None
    author: str | None = None
    dateline: str | None = None


# Web-interface phrases that are never part of a story when they fill a whole line.
_FURNITURE = re.compile(
    r"""^(?:
        (?:more|related|recommended|popular|trending|latest|top|similar|other)
            (?:\s+(?:articles?|stories|posts|news|reads?|videos?|from\s+\w+))?
      | (?:read|see|watch|listen)(?:\s+(?:more|also|next|the\s+full\s+story))?(?:\s*:.*)?
      | also\s+read(?:\s*:.*)?
      | most\s+(?:read|popular|viewed|shared)
      | you\s+(?:may|might)\s+(?:also\s+)?(?:like|be\s+interested\s+in)
      | advertisements?|sponsored(?:\s+content)?|ad
      | share(?:\s+(?:this|on\s+\w+))?(?:\s+(?:article|story|post))?
      | (?:subscribe|sign\s+up|log\s*in|sign\s+in|register)\b.{0,60}
      | follow\s+us\b.{0,40}
      | (?:leave\s+a\s+|post\s+a\s+|add\s+a\s+)?(?:comments?|reply)
      | (?:previous|next)\s+(?:article|post|story)
      | skip\s+to\s+(?:main\s+)?content|back\s+to\s+top|home|menu|search
      | tags?\s*:.*|filed\s+under\s*:?.*|categor(?:y|ies)\s*:.*
      | (?:©|copyright\b).{0,80}|all\s+rights\s+reserved\.?
      | error\s*:.{0,60}
      | .{0,40}content\s+is\s+protected.{0,10}
      | click\s+here\b.{0,60}
      | print|email|facebook|twitter|linkedin|whatsapp|telegram|x
    )[\s!.:|»›>-]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_BYLINE = re.compile(
    r"^(?:by|written\s+by|words\s+by)\s+(?P<name>[^\d,|]{3,80}?)\s*(?:[,|].*)?$", re.I
)
_PROFESSION = re.compile(
    r"\b(?:editor|journalist|writer|reporter|correspondent|columnist|contributor|author|"
    r"analyst|freelancer?|blogger|producer|anchor|covers|specializ\w+|specialis\w+)\b",
    re.IGNORECASE,
)
_NAME = r"(?:[A-Z][\w'’.-]+)(?:\s+[A-Z][\w'’.-]+){1,3}"
_BIO_START = re.compile(rf"^(?P<name>{_NAME})\s+(?:is|was|has|writes|covers|joined)\b")
_CLOSING = tuple(".!?:;\"”’')]…")
_WH_WORDS = frozenset({"why", "how", "what", "who", "when", "where", "which", "will", "can"})
_SMALL_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "over",
        "per",
        "the",
        "to",
        "up",
        "via",
        "vs",
        "with",
        "after",
        "before",
        "amid",
        "about",
        "against",
        "between",
        "under",
        "than",
        "that",
        "this",
    }
)
_DATELINE = re.compile(
    r"""^(?P<dateline>
        [A-Z][A-Z.'’ -]{1,40}[A-Z.]                             # WASHINGTON / NEW YORK
        (?:,\s+[A-Z][\w.]*(?:\s+[\w.]+){0,3})?                  # , Dec. 5 / , Calif.
        (?:\s*\((?:[A-Z][\w&. ]{0,30})\))?                      # (Reuters)
    )\s*[—–-]{1,2}\s+""",
    re.VERBOSE,
)
_RELATED_MIN_WORDS = 7
_SUBHEADING_MAX_WORDS = 14


def clean_html(html: str, *, url: str | None = None, title: str | None = None) -> CleanText:
    """Main text of an HTML page with trafilatura, then the same line filters as plain text."""
    try:
        doc = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, include_tables=False
        )
    except (ValueError, TypeError, AttributeError) as exc:  # lxml/trafilatura on broken markup
        raise EnrichmentError(f"HTML extraction failed: {exc}") from exc
    text = getattr(doc, "text", None)
    if not text:
        raise EnrichmentError("HTML extraction found no main text")
    page_title = getattr(doc, "title", None) or None
    # trafilatura already drops link blocks; the related-headline rule would cost list items.
    cleaned = clean_text(str(text), title=title or page_title, drop_related=False)
    author = cleaned.author or _clean_author(getattr(doc, "author", None))
    return CleanText(
        body=cleaned.body, title=title or page_title, author=author, dateline=cleaned.dateline
    )


def clean_text(text: str, *, title: str | None = None, drop_related: bool = True) -> CleanText:
    """Remove scraped page furniture from ``text``; keep the story, subheadings and quotes."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    found_title, lines = _take_title(lines, title)
    author, lines = _take_bio(lines)
    byline, lines = _take_byline(lines)
    lines = [line for line in lines if not _FURNITURE.match(line)]
    if drop_related:
        lines = _drop_related_headlines(lines)
    body = "\n\n".join(lines)
    match = _DATELINE.match(body)
    return CleanText(
        body=body,
        title=found_title,
        author=author or byline,
        dateline=match.group("dateline").strip() if match else None,
    )


def _take_title(lines: list[str], title: str | None) -> tuple[str | None, list[str]]:
    """Drop the title when the text repeats it near the top; without one, the first headline."""
    wanted = _fold(title) if title else None
    for index, line in enumerate(lines[:5]):
        if wanted is not None and _fold(line) == wanted:
            return title, lines[:index] + lines[index + 1 :]
    if wanted is None and lines and _is_headline(lines[0]):
        return lines[0], lines[1:]
    return title, lines


def _take_bio(lines: list[str]) -> tuple[str | None, list[str]]:
    """Find "<Name> is a ... editor ..." paragraphs; drop them and bare lines naming the author."""
    for line in lines:
        match = _BIO_START.match(line)
        if not match:
            continue
        name = match.group("name")
        first_sentence = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
        repeated = any(other == name for other in lines)
        if _PROFESSION.search(first_sentence) and (repeated or len(line.split()) >= 12):
            return name, [other for other in lines if other not in (line, name)]
    return None, lines


def _take_byline(lines: list[str]) -> tuple[str | None, list[str]]:
    for index, line in enumerate(lines[:8]):
        match = _BYLINE.match(line)
        if match and len(line.split()) <= 10:
            return _clean_author(match.group("name")), lines[:index] + lines[index + 1 :]
    return None, lines


def _drop_related_headlines(lines: list[str]) -> list[str]:
    """Drop headline-shaped lines of other stories; keep subheadings and lists.

    A line between two paragraphs of the story that does not end like a sentence is a
    heading. Subheadings are short, in Title Case, or questions; the headline of a
    related article is a long sentence-case line ("Concerns grow over ... in Japan")
    standing alone between paragraphs (consecutive such lines are a list).
    """
    kept = []
    for index, line in enumerate(lines):
        before = lines[index - 1] if index > 0 else ""
        after = lines[index + 1] if index + 1 < len(lines) else ""
        alone = not _is_headline(before) and not _is_headline(after)
        if not (alone and _is_headline(line) and _is_related_headline(line)):
            kept.append(line)
    return kept


def _is_headline(line: str) -> bool:
    words = line.split()
    return 1 <= len(words) <= 30 and not line.endswith(_CLOSING) and not line.startswith(("“", '"'))


def _is_related_headline(line: str) -> bool:
    words = line.split()
    if len(words) < _RELATED_MIN_WORDS or words[0].lower() in _WH_WORDS:
        return False
    content = [w for w in words if w.lower() not in _SMALL_WORDS and w[:1].isalpha()]
    capitalised = sum(1 for w in content if w[:1].isupper())
    title_case = bool(content) and capitalised / len(content) >= 0.6
    return not (title_case and len(words) <= _SUBHEADING_MAX_WORDS)


def _clean_author(author: str | None) -> str | None:
    if not author:
        return None
    author = re.sub(r"\s+", " ", author).strip(" ,;|-")
    return author or None


def _fold(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().casefold()
