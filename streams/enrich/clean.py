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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

import lxml.html
import trafilatura
from lxml import etree

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
      | tags?(?:\s*:.*)?|filed\s+under\s*:?.*|categor(?:y|ies)\s*:.*
      | (?:©|copyright\b).{0,80}|all\s+rights\s+reserved\.?
      | .{0,60}\bfor\s+your\s+personal,?\s+non-?commercial\s+use\b.*
      | error\s*:.{0,60}
      | .{0,40}content\s+is\s+protected.{0,10}
      | click\s+here\b.{0,60}
      | print|email|facebook|twitter|linkedin|whatsapp|telegram|x
      | (?:order\s+)?reprints?|print\s+(?:this\s+)?(?:article|story|page)
      | related\s*:.*|also\s+on\s+\S+\.[a-z]{2,}\b.*
      | tell\s+us\s+what\s+you\s+think
      | (?:like|enjoy(?:ed)?|love)\s+this\s+(?:story|article|post)\b.{0,60}
      | an\s+error\s+(?:has\s+)?occurred\b.{0,60}
      | [\w'’ ]{0,40}\bnewsletters?
      | (?:reading\s+time|tempo\s+de\s+leitura|temps\s+de\s+lecture|lesezeit)\s*:?.{0,20}
      | \d{1,3}\s*(?:-\s*)?min(?:ute)?s?\s+read
    )[\s!.:|»›>-]*$""",
    re.IGNORECASE | re.VERBOSE,
)
# A list bullet in front of a furniture phrase ("- Print Article") changes nothing.
_BULLET = re.compile(r"^[-–•*·]\s+")
# Calls to act that close many stories: follow us, write to the reporter, get the newsletter.
_CALL_TO_ACT = re.compile(
    r"""^(?:
        (?:follow|email|e-mail|write\s+to|reach|contact|tweet)\b
            .{0,200}(?:@|\b(?:twitter|facebook|instagram|youtube|linkedin|tiktok)\b).{0,200}
      | (?:get|sign\s+up|subscribe)\b.{0,160}\b(?:newsletters?|inbox|delivered)\b.{0,120}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Production credits of wire stories: "(Reporting by ...; Editing by ...)".
_CREDITS = re.compile(
    r"""^\(?(?:
        (?:additional\s+)?(?:reporting|writing|editing|research)\s+by\b
      | [\w.'’ -]{3,60}\s+contributed\s+
            (?:reporting|research|to\s+this\s+(?:report|article|story))\b
    ).{0,300}$""",
    re.IGNORECASE | re.VERBOSE,
)
# A line that only says when (and maybe by whom) it was published: a date in numbers, a
# year with a clock time, or "Updated at ..."; a few short words, no sentence of its own.
# A clock time alone ("Kick-off 19:45") may be part of the story.
_CLOCK = re.compile(r"\b\d{1,2}[:h]\d{2}\b")
_NUMERIC_DATE = re.compile(r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}(?:T[\d:+-]+)?\b")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_STAMP = re.compile(
    r"^(?:last\s+)?(?:updated|published|posted|modified|publicado|atualizado|actualizado|"
    r"aktualisiert|veröffentlicht|mis\s+à\s+jour|publié|pubblicato|aggiornato)\b",
    re.IGNORECASE,
)
_LONG_LOWER_WORD = re.compile(r"^[a-zà-ÿ]{4,}$")
_DATE_LINE_MAX_WORDS = 12
# An excerpt cut with a bracketed ellipsis is the teaser of another page (a bare "…"
# is not: bloggers end sentences with it).
_TEASER_END = re.compile(r"\[(?:…|\.\.\.)\]$")
# A content-management shortcode the site left unrendered ("[button link=...]Send[/button]").
_SHORTCODE = re.compile(r"^\[(?P<tag>\w+)\b[^\]]*\].*\[/(?P=tag)\]$")
# A bare address, maybe with a short label ("Download: https://...").
_URL_LINE = re.compile(r"^(?:[\w ]{1,30}:\s*)?https?://\S+$", re.IGNORECASE)
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
    """The story of an HTML page: trafilatura passes, then the same line filters as plain text.

    A precision pass first (it leaves out more furniture); a balanced pass when that finds
    less than a short story; a recall pass when that finds next to nothing. Story paragraphs
    the extractor skipped are put back; when all passes find next to nothing, the page's
    largest block of prose paragraphs is the last candidate. A page without a story
    raises an EnrichmentError saying what the page is instead (an empty shell, a cookie
    wall, an index of links), so the dead letter tells an operator what to do.
    """
    page = _as_document(html)
    best: _Pass | None = None
    for options in _PASSES:
        if best is not None and best.words >= options.needed_below:
            break
        found = _extract(page, url=url, title=title, options=options)
        if found is not None and (best is None or found.words > best.words):
            best = found
    paragraphs = _page_paragraphs(page)
    if best is not None and best.words:
        best = _with_skipped_paragraphs(best, paragraphs)
    if best is None or best.words < MIN_STORY_WORDS:
        found_title = best.cleaned.title if best is not None else None
        block = _largest_prose_block(paragraphs, title=title or found_title)
        if block is not None and (best is None or block.words > best.words):
            best = block
    reason = not_an_article(page, best.cleaned.body if best is not None else "")
    if reason is not None:
        raise EnrichmentError(reason)
    if best is None or not best.words:
        raise EnrichmentError(
            "HTML extraction found no main text in the precision, balanced and recall passes "
            "nor in the page's paragraphs: "
            "if the page has a story, send it as the article's text"
        )
    # A short body is kept: a brief or a breaking-news line is a real article too.
    return best.cleaned


@dataclass(frozen=True, slots=True)
class _PassOptions:
    name: str
    # run this pass only while the best body so far has fewer words than this
    needed_below: int
    favor_precision: bool = False
    favor_recall: bool = False


@dataclass(frozen=True, slots=True)
class _Pass:
    cleaned: CleanText
    words: int


# Fewer words than this is not much of a story: the recall pass is tried, and a page this
# short is checked for being an empty shell.
MIN_STORY_WORDS = 20
# Below this the precision pass may have dropped part of the story (the shortest real
# stories seen have about 100 words): ask the balanced pass too and keep the longer body.
_SHORT_STORY_WORDS = 100
_PASSES = (
    _PassOptions("precision", needed_below=1, favor_precision=True),
    _PassOptions("balanced", needed_below=_SHORT_STORY_WORDS),
    # recall takes in more furniture, so only when nothing like a story was found
    _PassOptions("recall", needed_below=MIN_STORY_WORDS, favor_recall=True),
)


def _extract(
    page: str, *, url: str | None, title: str | None, options: _PassOptions
) -> _Pass | None:
    try:
        doc = trafilatura.bare_extraction(
            page,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=options.favor_precision,
            favor_recall=options.favor_recall,
        )
    except (ValueError, TypeError, AttributeError) as exc:  # lxml/trafilatura on broken markup
        raise EnrichmentError(f"HTML extraction failed ({options.name} pass): {exc}") from exc
    text = getattr(doc, "text", None)
    if not text:
        return None
    page_title = getattr(doc, "title", None) or None
    # trafilatura already drops link blocks; the related-headline rule would cost list items.
    cleaned = clean_text(str(text), title=title or page_title, drop_related=False)
    author = cleaned.author or _clean_author(getattr(doc, "author", None))
    cleaned = CleanText(
        body=cleaned.body, title=title or page_title, author=author, dateline=cleaned.dateline
    )
    return _Pass(cleaned=cleaned, words=len(cleaned.body.split()))


def _with_skipped_paragraphs(found: _Pass, paragraphs: Sequence[PageParagraph]) -> _Pass:
    """``found`` with the story paragraphs the extractor skipped put back, in page order.

    trafilatura sometimes stops part-way through a story: after an embedded box, or at
    the next of several blocks a site splits its story into ("chunks" between ads). The
    story's own paragraphs share their container's markup (the same tag and classes), so
    a prose paragraph in a container of that kind that the body lacks is part of it.
    """
    lines = found.cleaned.body.split("\n\n")
    merged = restore_paragraphs(lines, paragraphs)
    if merged == lines:
        return found
    body = "\n\n".join(merged)
    cleaned = found.cleaned
    restored = CleanText(
        body=body, title=cleaned.title, author=cleaned.author, dateline=cleaned.dateline
    )
    return _Pass(cleaned=restored, words=len(body.split()))


@dataclass(frozen=True, slots=True)
class PageParagraph:
    """A ``<p>`` of the page: its text, its parent's tag and classes, its words in links.

    ``block`` numbers the parent element: paragraphs with the same number are in one block.
    """

    text: str
    container: tuple[str, str]
    link_words: int
    block: int


# A paragraph put back must be prose: a sentence or more, not mostly link text (a teaser).
_RESTORED_MIN_WORDS = 8
_RESTORED_MAX_LINK_SHARE = 0.5
# A page paragraph is in the body when half its word triples are (the extractor may have
# dropped a link or an inline box from it).
_KEPT_TRIGRAM_SHARE = 0.5
# Text that is never a paragraph's own words, and places the story is never in.
_NOT_TEXT = ("script", "style", "noscript", "template")
_NOT_STORY = frozenset({"nav", "aside", "footer", "figure", "figcaption", "form", "header"})
_UTF8_HTML = lxml.html.HTMLParser(encoding="utf-8")


def restore_paragraphs(lines: Sequence[str], paragraphs: Sequence[PageParagraph]) -> list[str]:
    """``lines`` (the body, in page order) plus the skipped prose ``paragraphs`` of its story.

    The story's container kind is the one holding most of the body's words; only a
    container kind with a class counts (a bare ``<div>`` is every kind of block).
    """
    first_line: dict[tuple[str, ...], int] = {}
    for index, line in enumerate(lines):
        for triple in _triples(_fold(line).split()):
            first_line.setdefault(triple, index)
    kept_words: Counter[tuple[str, str]] = Counter()
    line_of: dict[int, int] = {}
    candidates: dict[int, str] = {}
    for number, paragraph in enumerate(paragraphs):
        words = _fold(paragraph.text).split()
        triples = _triples(words)
        if not triples:
            continue
        found = [first_line[t] for t in triples if t in first_line]
        if len(found) >= _KEPT_TRIGRAM_SHARE * len(triples):
            # the line holding most of it (a common triple may be first seen earlier)
            line_of[number] = Counter(found).most_common(1)[0][0]
            kept_words[paragraph.container] += len(words)
        elif _is_prose(paragraph):
            candidates[number] = paragraph.text
    if not kept_words:
        return list(lines)
    story_container = kept_words.most_common(1)[0][0]
    if not story_container[1]:
        return list(lines)
    restored = {
        number: text
        for number, text in candidates.items()
        if paragraphs[number].container == story_container and not _is_furniture(text)
    }
    if not restored:
        return list(lines)
    # each restored paragraph goes after the body line of the kept paragraph before it
    after: dict[int, list[str]] = {}
    previous_line = -1
    for number in sorted(line_of.keys() | restored.keys()):
        if number in line_of:
            previous_line = max(previous_line, line_of[number])
        else:
            after.setdefault(previous_line, []).append(restored[number])
    merged = list(after.get(-1, []))
    for index, line in enumerate(lines):
        merged.append(line)
        merged.extend(after.get(index, []))
    return merged


def _largest_prose_block(paragraphs: Sequence[PageParagraph], *, title: str | None) -> _Pass | None:
    """The prose paragraphs of the one element that holds the most of them.

    A story is one block of paragraphs; the summaries on an index page each sit in their
    own teaser, so no single block of an index page holds much prose.
    """
    words_in: Counter[int] = Counter()
    for paragraph in paragraphs:
        if _is_prose(paragraph) and not _is_furniture(paragraph.text):
            words_in[paragraph.block] += len(paragraph.text.split())
    if not words_in:
        return None
    block = words_in.most_common(1)[0][0]
    lines = [
        p.text
        for p in paragraphs
        if p.block == block and _is_prose(p) and not _is_furniture(p.text)
    ]
    cleaned = clean_text("\n\n".join(lines), title=title, drop_related=False)
    cleaned = CleanText(
        body=cleaned.body, title=title, author=cleaned.author, dateline=cleaned.dateline
    )
    return _Pass(cleaned=cleaned, words=len(cleaned.body.split()))


def _is_prose(paragraph: PageParagraph) -> bool:
    words = len(paragraph.text.split())
    return words >= _RESTORED_MIN_WORDS and paragraph.link_words <= _RESTORED_MAX_LINK_SHARE * words


def _triples(words: Sequence[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def _page_paragraphs(page: str) -> list[PageParagraph]:
    """Every ``<p>`` of the page outside navigation, asides, footers and figures."""
    try:
        # bytes with the encoding said: lxml refuses a str that declares its own encoding
        tree = lxml.html.fromstring(page.encode("utf-8"), parser=_UTF8_HTML)
    except (etree.ParserError, ValueError):  # nothing lxml can read: nothing to put back
        return []
    etree.strip_elements(tree, *_NOT_TEXT, with_tail=False)
    paragraphs = []
    blocks: dict[object, int] = {}
    for element in tree.iter("p"):
        parent = element.getparent()
        if parent is None or any(a.tag in _NOT_STORY for a in element.iterancestors()):
            continue
        text = " ".join(element.text_content().split())
        classes = " ".join(sorted(str(parent.get("class") or "").split()))
        link_words = sum(len(link.text_content().split()) for link in element.iter("a"))
        block = blocks.setdefault(parent, len(blocks))
        paragraphs.append(PageParagraph(text, (str(parent.tag), classes), link_words, block))
    return paragraphs


def _as_document(html: str) -> str:
    """A fragment ("<div><article>...</article></div>") as a whole page.

    trafilatura refuses input that neither mentions "html" near its start nor parses into
    two or more top-level elements, so a story sent as one wrapped block found no text.
    """
    if "<html" in html[:2048].lower():
        return html
    return f"<html><head></head><body>{html}</body></html>"


def not_an_article(html: str, body: str) -> str | None:
    """Why a page is not an article (an operator's reason for the DLQ), or None if it may be.

    ``body`` is the text the extraction kept. Three kinds of page are told apart:
    a cookie or consent wall, an index page of links (headlines), an empty shell whose
    text a browser would render with JavaScript.
    """
    body_words = len(body.split())
    if body_words >= _SHORT_STORY_WORDS * 3:
        return None  # a long body is a story, whatever else the page has
    page = _page_text(html)
    if _is_consent_notice(body if body_words >= MIN_STORY_WORDS else page.text):
        return (
            "HTML page is a cookie or consent notice, not the article: fetch the page with "
            "consent given (a cookie the site sets) or send the article's text"
        )
    link_share = _link_share(body, page) if body_words >= MIN_STORY_WORDS else page.link_share
    if link_share >= _INDEX_LINK_SHARE:
        return (
            f"HTML page is an index of links, not an article ({link_share:.0%} of its text is "
            "link text, e.g. a section or home page): send article pages only"
        )
    # A shell shows next to nothing; what an extractor finds there is its noscript notice.
    if body_words < MIN_STORY_WORDS and page.words < max(3, body_words // 2):
        return (
            f"HTML page has no text to extract ({page.words} words outside scripts; the page "
            "is probably rendered by JavaScript): send the rendered HTML or the article's text"
        )
    return None


# A body whose lines are mostly whole link texts is a list of headlines.
_INDEX_LINK_SHARE = 0.6
_CONSENT_WORDS = re.compile(r"\bcookies?\b|\bconsent\b|\bgdpr\b|\btracking technologies\b", re.I)
_CONSENT_ACTIONS = re.compile(
    r"\b(?:accept|agree|allow|reject|decline|manage|customi[sz]e|preferences|settings)\b", re.I
)
# A consent notice is short; a story about cookie law is not.
_CONSENT_MAX_WORDS = 200


def _is_consent_notice(text: str) -> bool:
    if not text or len(text.split()) > _CONSENT_MAX_WORDS:
        return False
    return len(_CONSENT_WORDS.findall(text)) >= 2 and bool(_CONSENT_ACTIONS.search(text))


def _link_share(body: str, page: _PageText) -> float:
    """Share of the body's words in lines that are the whole text of a link on the page."""
    lines = [line for line in body.split("\n") if line.strip()]
    words = sum(len(line.split()) for line in lines)
    linked = sum(len(line.split()) for line in lines if _fold(_BULLET.sub("", line)) in page.links)
    return linked / words if words else 0.0


@dataclass(frozen=True, slots=True)
class _PageText:
    text: str
    words: int
    links: frozenset[str]
    link_share: float


def _page_text(html: str) -> _PageText:
    reader = _VisibleText()
    try:
        reader.feed(html)
        reader.close()
    except (ValueError, AssertionError):  # html.parser on markup it cannot read
        pass
    text = " ".join(reader.parts)
    words = len(text.split())
    link_words = sum(len(link.split()) for link in reader.links)
    return _PageText(
        text=text,
        words=words,
        links=frozenset(_fold(link) for link in reader.links if link.strip()),
        link_share=link_words / words if words else 0.0,
    )


class _VisibleText(HTMLParser):
    """The text a reader would see (no scripts, styles, templates) and the texts of links."""

    _HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "svg"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0
        self._link: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag == "a":
            self._link = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "a" and self._link is not None:
            self.links.append(" ".join(self._link))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._hidden or not data.strip():
            return
        self.parts.append(data.strip())
        if self._link is not None:
            self._link.append(data.strip())


def clean_text(text: str, *, title: str | None = None, drop_related: bool = True) -> CleanText:
    """Remove scraped page furniture from ``text``; keep the story, subheadings and quotes."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    found_title, lines = _take_title(lines, title)
    author, lines = _take_bio(lines)
    byline, lines = _take_byline(lines)
    lines = [line for line in lines if not _is_furniture(line)]
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


def _is_furniture(line: str) -> bool:
    unbulleted = _BULLET.sub("", line)
    return bool(
        _FURNITURE.match(unbulleted)
        or _CALL_TO_ACT.match(unbulleted)
        or _CREDITS.match(unbulleted)
        or _URL_LINE.match(unbulleted)
        or _SHORTCODE.match(unbulleted)
        or _TEASER_END.search(line)
        or _is_date_line(unbulleted)
    )


def _is_date_line(line: str) -> bool:
    """A dateline of the page ("Updated at 1:23 p.m.", "05/10/2018 - Publicado por: ...")."""
    words = line.split()
    if len(words) > _DATE_LINE_MAX_WORDS or "|" in line:
        return False
    clock = _CLOCK.search(line) is not None
    dated = _NUMERIC_DATE.search(line) is not None or (clock and _YEAR.search(line) is not None)
    if not (dated or (clock and _STAMP.match(line))):
        return False
    if line.endswith(_CLOSING) and not line.lower().endswith(("a.m.", "p.m.")):
        return False
    return sum(1 for word in words if _LONG_LOWER_WORD.match(word)) < 4


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
