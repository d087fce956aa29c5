"""From NER mentions to entities: each once per article, with a canonical name.

Input is ``(start, end, label)`` triples with OntoNotes labels (spaCy's ``doc.ents``),
so any NER model can feed it. Steps:

1. trim each mention (leading "the", titles and roles such as "Prime Minister" or
   "Playmaker", a trailing "'s") and drop a mention that is only a title ("the President");
   the article's edges: a dateline's place is a place ("OTTAWA, March 3 (Reuters) -"),
   its news agency an organisation, and a byline ("By Jane Doe, Reuters") names the
   author, not someone the story is about, so its mentions go;
2. add persons the model missed where a role names them ("ambassador to China, Igor
   Morgulov," / "Sergei Shoigu, Russia's top security official");
3. merge short forms into the full name they abbreviate ("Morgulov", "President Xi"
   -> "Igor Morgulov", "Xi Jinping"), whatever label the model gave the short form;
4. drop persons that only occur in Title Case headings ("Leadership Ties"): NER guesses
   names from capital letters, which headings give every word;
5. map places to ISO 3166-1 alpha-2 codes; a place or person known only in capitals (a
   dateline's "OTTAWA", a table's "JOHN SMITH") is named in ordinary case ("Ottawa").

Every span is verified: ``body[start:end]`` is the mention.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from streams.enrich.gazetteer import foreign_country_code
from streams.enrich.places import country_code
from streams.messages import Entity

Mention = tuple[int, int, str]

KEPT_LABELS = frozenset(
    {
        "PERSON",
        "ORG",
        "GPE",
        "LOC",
        "NORP",
        "EVENT",
        "FAC",
        "LAW",
        "PRODUCT",
        "WORK_OF_ART",
        "LANGUAGE",
        "MISC",
        "MONEY",
        "PERCENT",
        "DATE",
    }
)
# CoNLL-style labels a model trained on CoNLL may give, in their OntoNotes spelling.
_LABEL_ALIASES = {"PER": "PERSON"}
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
_NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "MISC"})
# Labels a surname is often mistaken for; NORP ("Rwandan") never is a surname.
_MERGE_INTO_PERSON = frozenset({"ORG", "GPE", "LOC", "FAC"})

_TITLES = (
    r"(?:(?:Chinese|Russian|US|U\.S\.|American|British|French|German|Japanese|Indian|Israeli|"
    r"Iranian|Ukrainian|Turkish|Former|former|Deputy|deputy|Vice|vice|Acting|acting|Prime|"
    r"Foreign|Defence|Defense|Finance|Interior|Trade|Economy|Energy|Health|Justice|Home|"
    r"Chief|Supreme|Senior|Opposition|Secretary|State|General|Lieutenant|Lt\.?|Major|"
    r"Maj\.?|Rear|Admiral)\s+)*"
    r"(?:President|Premier|Chancellor|Minister|Secretary|Ambassador|Envoy|Senator|Sen\.|"
    r"Representative|Rep\.|Governor|Gov\.|Mayor|King|Queen|Prince|Princess|Sheikh|Emir|"
    r"Pope|Cardinal|Archbishop|Bishop|Rev\.|Reverend|Judge|Justice|General|Gen\.|Colonel|"
    r"Col\.|Captain|Capt\.|Commander|Admiral|Chairman|Chairwoman|Chair|Director|Dr\.?|"
    r"Prof\.?|Professor|Mr\.?|Mrs\.?|Ms\.?|Miss|Sir|Dame|Lord|Lady|Speaker|Leader|"
    r"Spokesman|Spokeswoman|Spokesperson|CEO|Chief\s+Executive|Commissioner|Crown\s+Prince)"
)
# Roles in sport and business written before a person's name ("Playmaker Lionel Messi");
# only stripped from persons ("Forward Party" and "Manager Magazin" keep their word).
_ROLES_BEFORE_NAME = (
    r"(?:(?:Head|Assistant|Interim|Former|former|Veteran|Star|Team)\s+)?"
    r"(?:Playmaker|Striker|Forward|Midfielder|Defender|Goalkeeper|Winger|Captain|Skipper|"
    r"Coach|Manager|Founder|Co-founder|CFO|COO|CTO|Chief\s+Operating\s+Officer|"
    r"Chief\s+Financial\s+Officer)"
)
_LEADING_TITLE = re.compile(rf"^{_TITLES}\s+(?=[A-Z])")
_LEADING_ROLE = re.compile(rf"^{_ROLES_BEFORE_NAME}\s+(?=[A-Z])")
# A mention that is nothing but a title ("President", "the Prime Minister", "CEO").
_ONLY_TITLE = re.compile(rf"^(?:(?:the|The|THE)\s+)?(?:{_TITLES}|{_ROLES_BEFORE_NAME})$")
# "OTTAWA, March 3 (Reuters) -", "SAN FRANCISCO, Calif. (AP) —", "LONDON -", "BEIJING (AP) —",
# CoNLL's "LONDON 1996-08-30" and a place alone on its line: a place in capitals, then a
# date or region, a news agency and a dash, or the end of the line.
_DATELINE = re.compile(
    r"""^[ \t]*(?P<place>[A-ZÀ-ÖØ-Þ][A-ZÀ-ÖØ-Þ.'’-]*(?:[ \t]+[A-ZÀ-ÖØ-Þ][A-ZÀ-ÖØ-Þ.'’-]*){0,3})
        (?:,[ \t]+[A-Z][a-z]{1,9}\.?(?:[ \t]+\d{1,2})?)?        # , March 3 / , Calif.
        (?:[ \t]+\d{4}-\d{2}-\d{2})?                               # 1996-08-30
        (?:[ \t]*\((?P<agency>[A-Z][\w&. ]{0,30})\))?              # (Reuters)
        (?=[ \t]*(?:[—–-]{1,2}|:)[ \t]|[ \t]*$|[ \t]+\d{4}-)""",
    re.VERBOSE | re.MULTILINE,
)
# "By Jane Doe, Reuters", "By JOHN SMITH and Ana Ruiz": capitalised names only, so that
# "By stumps Kent had reached 108" or "By Wednesday, the hostages ..." are not bylines.
_BYLINE = re.compile(
    r"^[ \t]*(?:By|BY|Written by)[ \t]+[A-Z][\w.'’-]*"
    r"(?:[ \t]+(?:[A-Z][\w.'’-]*|de|van|von|der|da|and|AND|&))*"
    r"(?:[ \t]*[,|/][ \t]*[A-Z][^\n]{0,40})?[ \t]*$",
    re.MULTILINE,
)
_EDGE_LINES = 3  # datelines and bylines are among the first lines of a body
# Words of a name in ordinary case that stay lower case ("Rio de Janeiro").
_LOWER_PARTICLES = frozenset(
    {"de", "da", "do", "dos", "del", "della", "di", "du", "des", "la", "le", "van", "von"}
    | {"der", "den", "al", "el", "y", "of", "and", "upon", "on", "the"}
)
# Places that are written in capitals because they are abbreviations.
_CAPITAL_PLACES = frozenset({"USSR", "DPRK", "PRC", "USA", "UAE", "NYC", "EU", "UK", "US"})
_LEADING_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
_LEADING_PUNCT = re.compile(r"^[\s,;:(\[-]+")  # ", Jan 5" in "WASHINGTON, Jan 5"
# A full stop stays: it ends abbreviations ("U.S.", "Corp.") and NER leaves sentence ends out.
_TRAILING = re.compile(r"(?:['’]s|['’]|[\s,;:!?)\]-]|\s+(?:to|and|or|of))+$")
_ROLE = (
    r"(?:president|premier|chancellor|minister|secretary|ambassador|envoy|official|spokesman|"
    r"spokeswoman|spokesperson|chairman|chairwoman|chief|director|executive|governor|senator|"
    r"lawmaker|leader|general|commander|mayor|prosecutor|judge|economist|analyst|professor|"
    r"founder|head|diplomat|adviser|advisor|deputy|representative|negotiator|candidate|"
    r"counsellor|counselor|aide|envoy|ceo|cfo|strategist|researcher|attorney|lawyer|colonel)s?"
)
_PERSON_NAME = r"[A-Z][a-zà-ÿ'’-]+(?:\s+[A-Z][a-zà-ÿ'’-]+){1,2}"
# "<role> [to|of|for <Name>], <Person>," and "<role> <Person>"
_AFTER_ROLE = re.compile(
    rf"\b{_ROLE}(?:\s+(?:to|of|for|at)\s+(?:the\s+)?[A-Z][\w.]*(?:\s+[A-Z][\w.]*)*)?,?\s+"
    rf"(?P<name>{_PERSON_NAME})(?=\s*[,;.)]|\s+(?:said|says|told|added|has|had|was|is|who)\b)",
)
# "<Person>, [Russia's|the] [top security] <role>"
_BEFORE_ROLE = re.compile(
    rf"(?P<name>{_PERSON_NAME}),\s+(?:(?:the|a|an|its|[A-Z][\w.]*['’]s)\s+)?"
    rf"(?:[\w-]+\s+){{0,3}}{_ROLE}\b"
)
_CLOSING = tuple(".!?:;\"”’')]…")


@dataclass(slots=True)
class _Cluster:
    label: str
    names: list[str]
    spans: list[tuple[int, int]] = field(default_factory=list)
    person_form: str | None = None


def extract_entities(
    body: str, mentions: Iterable[Mention], *, source: str = ""
) -> tuple[list[Entity], list[str]]:
    """Entities of ``body`` (most mentioned first) and the ISO codes of the places in it;
    ``source`` names what found the mentions (a model, or the gazetteer)."""
    trimmed = [m for m in (_trim(body, *mention) for mention in mentions) if m is not None]
    trimmed = _drop_bare_titles(body, trimmed)
    trimmed = _fix_edges(body, trimmed)
    trimmed = _add_role_persons(body, trimmed)
    clusters = _cluster(body, trimmed)
    headings = _heading_ranges(body)
    entities = [
        Entity(
            name=_canonical(c),
            label=c.label,
            spans=sorted(c.spans),
            count=len(c.spans),
            source=source,
        )
        for c in clusters
        if not (c.label == "PERSON" and all(_inside(s, headings) for s in c.spans))
    ]
    entities.sort(key=lambda e: (-e.count, e.spans[0][0]))
    return entities, _countries(entities)


def _trim(body: str, start: int, end: int, label: str) -> Mention | None:
    """Strip articles, titles and possessives; None when nothing worth keeping is left."""
    label = _LABEL_ALIASES.get(label, label)
    if label not in KEPT_LABELS:
        return None
    text = body[start:end]
    leading: tuple[re.Pattern[str], ...] = (_LEADING_PUNCT,)
    if label in _NAME_LABELS:
        leading = (*leading, _LEADING_ARTICLE, _LEADING_TITLE)
    if label == "PERSON":
        leading = (*leading, _LEADING_ROLE)
    for pattern in leading:
        match = pattern.match(text)
        if match and match.end() < len(text):
            start, text = start + match.end(), text[match.end() :]
    match = _TRAILING.search(text)
    if match and match.start() > 0:
        cut = match.start()
        if text.count("(") > text[:cut].count(")") and ")" in text[cut:]:
            cut += text[cut:].index(")") + 1  # "Mladost (BJ)": the bracket closes a name
        end, text = start + cut, text[:cut]
    if not text.strip() or (label in _NAME_LABELS and not any(ch.isupper() for ch in text)):
        return None
    return start, end, label


def _drop_bare_titles(body: str, mentions: list[Mention]) -> list[Mention]:
    """Drop names that are only a title ("President", "the Prime Minister", "CEO").

    A title word that is also part of a person's name in the article stays ("King" after
    "Stephen King").
    """
    name_words = {
        word for s, e, lab in mentions if lab == "PERSON" for word in body[s:e].split()[1:]
    }
    return [
        (s, e, lab)
        for s, e, lab in mentions
        if lab not in _NAME_LABELS or not _ONLY_TITLE.match(body[s:e]) or body[s:e] in name_words
    ]


def edge_lines(body: str) -> list[tuple[int, int]]:
    """Character ranges of the first non-empty lines, where datelines and bylines stand."""
    ranges = [m.span() for m in re.finditer(r"[^\n]*\S[^\n]*", body[:2000])]
    return ranges[:_EDGE_LINES]


def dateline(body: str) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
    """The place (and news agency) of the article's dateline, as character ranges.

    "OTTAWA, March 3 (Reuters) - ..." -> the ranges of "OTTAWA" and "Reuters".
    """
    for start, end in edge_lines(body):
        match = _DATELINE.match(body, start, end)
        if match is None or sum(ch.isupper() for ch in match.group("place")) < 2:
            continue
        agency = match.span("agency") if match.group("agency") else None
        return match.span("place"), agency
    return None


def bylines(body: str) -> list[tuple[int, int]]:
    """Character ranges of byline lines ("By Jane Doe, Reuters") among the first lines."""
    return [
        (start, end)
        for start, end in edge_lines(body)
        if _BYLINE.match(body, start, end) is not None
    ]


def _fix_edges(body: str, mentions: list[Mention]) -> list[Mention]:
    """Datelines and bylines: the place is a place, the agency an organisation, and the
    names of a byline are the author's (``author``), not the story's."""
    found = dateline(body)
    by = bylines(body)
    out: list[Mention] = []
    place_seen = False
    for start, end, label in mentions:
        if any(s <= start and end <= e for s, e in by):
            continue
        if found is not None and label in _NAME_LABELS:
            (p_start, p_end), agency = found
            if (start, end) == (p_start, p_end):
                place_seen = True
                # "RUGBY UNION -" and "UNITED NATIONS 1996-08-29" look like datelines too:
                # the model's label stands unless the gazetteer knows the place.
                if label not in PLACE_LABELS and country_code(body[start:end]) is not None:
                    label = "GPE"
            elif agency is not None and (start, end) == agency:
                label = "ORG"
        out.append((start, end, label))
    if found is not None and not place_seen:
        p_start, p_end = found[0]
        free = not any(s < p_end and p_start < e for s, e, _ in out)
        # A place the model missed, added only when the gazetteer knows it ("SOCCER -" is not).
        if free and country_code(body[p_start:p_end]) is not None:
            out.append((p_start, p_end, "GPE"))
            out.sort()
    return out


def _add_role_persons(body: str, mentions: list[Mention]) -> list[Mention]:
    """Persons named by a role the model missed or mislabelled as a place or organisation."""
    found: dict[tuple[int, int], Mention] = {(s, e): (s, e, lab) for s, e, lab in mentions}
    for pattern in (_AFTER_ROLE, _BEFORE_ROLE):
        for match in pattern.finditer(body):
            start, end = match.span("name")
            text = match.group("name")
            if country_code(text) is not None or _overlaps_person(start, end, found.values()):
                continue
            clashing = [key for key in found if key[0] < end and start < key[1]]
            if any(found[key][2] not in _NAME_LABELS for key in clashing):
                continue
            # "director at Pontiac Osteopathic Hospital": the model's longer name wins over
            # a person the pattern would cut out of it.
            if any(key[0] < start or end < key[1] for key in clashing):
                continue
            for key in clashing:
                del found[key]
            found[(start, end)] = (start, end, "PERSON")
    return sorted(found.values())


def _overlaps_person(start: int, end: int, mentions: Iterable[Mention]) -> bool:
    return any(s < end and start < e and lab == "PERSON" for s, e, lab in mentions)


def _cluster(body: str, mentions: Sequence[Mention]) -> list[_Cluster]:
    """Group mentions: exact names per label, then short names into a longer person's name."""
    persons: dict[str, _Cluster] = {}
    others: dict[tuple[str, str], _Cluster] = {}
    for start, end, label in mentions:
        text = body[start:end]
        key = _fold(text)
        if label == "PERSON":
            cluster = persons.setdefault(key, _Cluster(label, []))
        else:
            cluster = others.setdefault((label, key), _Cluster(label, []))
        cluster.names.append(text)
        cluster.spans.append((start, end))
    full_names = {k: c for k, c in persons.items() if len(k.split()) > 1}
    for key, cluster in list(persons.items()):
        target = _longer_person(key, cluster, full_names)
        if target is not None:
            _merge(target, persons.pop(key))
    for (label, key), cluster in list(others.items()):
        if label in _MERGE_INTO_PERSON and not (label in PLACE_LABELS and country_code(key)):
            target = _longer_person(key, cluster, full_names)
            if target is not None:
                _merge(target, others.pop((label, key)))
    return [c for c in persons.values() if c.spans] + list(others.values())


def _longer_person(key: str, cluster: _Cluster, full: dict[str, _Cluster]) -> _Cluster | None:
    """The one longer person name whose words include all of ``key``'s words."""
    words = set(key.split())
    candidates = [
        c for k, c in full.items() if k != key and words < set(k.split()) and len(words) < 3
    ]
    if len(candidates) != 1 or candidates[0] is cluster:
        return None
    return candidates[0]


def _merge(target: _Cluster, source: _Cluster) -> None:
    target.spans.extend(source.spans)
    source.spans = []


def _canonical(cluster: _Cluster) -> str:
    """The longest form for persons (their full name), the most frequent form otherwise.

    Ties go to a form that is not all capitals (a dateline's "OTTAWA" against the story's
    "Ottawa"), then to the first seen: never to a set's order, which changes from one
    process to the next with Python's hash seed.
    """
    if cluster.label == "PERSON":
        name = max(cluster.names, key=lambda n: (len(n.split()), len(n), not n.isupper()))
    else:
        forms = dict.fromkeys(cluster.names)  # distinct, in the order first seen
        name = max(forms, key=lambda n: (cluster.names.count(n), len(n), not n.isupper()))
    # A place only when the gazetteer knows it: "OFAC" mislabelled as a place stays as written.
    if cluster.label == "PERSON" or (cluster.label in PLACE_LABELS and country_code(name)):
        return ordinary_case(name)
    return name


def ordinary_case(name: str) -> str:
    """A person's or place's name written in capitals, in ordinary case.

    "OTTAWA" -> "Ottawa", "RIO DE JANEIRO" -> "Rio de Janeiro", "JOHN O'NEILL" -> "John
    O'Neill"; names not wholly in capitals and abbreviations ("USSR", "U.S.") are kept.
    """
    letters = [ch for ch in name if ch.isalpha()]
    if len(letters) < 4 or not name.isupper() or name.replace(".", "") in _CAPITAL_PLACES:
        return name
    if "." in name and len(max(name.split("."), key=len)) <= 2:  # "U.S.", "U.K."
        return name
    words = []
    for index, word in enumerate(name.split(" ")):
        lower = word.lower()
        if index and lower in _LOWER_PARTICLES:
            words.append(lower)
        else:
            words.append(re.sub(r"(^|[-'’])(\w)", lambda m: m.group(1) + m.group(2).upper(), lower))
    return " ".join(words)


def _countries(entities: Iterable[Entity]) -> list[str]:
    codes: list[str] = []
    for entity in entities:
        code = None
        if entity.label in PLACE_LABELS:
            code = country_code(entity.name) or foreign_country_code(entity.name)
        if code is not None and code not in codes:
            codes.append(code)
    return codes


def _heading_ranges(body: str) -> list[tuple[int, int]]:
    """Character ranges of Title Case heading lines (short, no digits, no closing stop)."""
    ranges: list[tuple[int, int]] = []
    for match in re.finditer(r"[^\n]+", body):
        line = match.group().strip()
        words = [w for w in re.findall(r"[^\W\d_][\w'’-]*", line) if len(w) > 3]
        if (
            words
            and len(line.split()) <= 12
            and not line.endswith(_CLOSING)
            and not any(ch.isdigit() for ch in line)
            and ":" not in line  # "Man of the Match: Aravinda de Silva" is a label and value
            and line.count(",") < 2  # "Mike Hulbert, Brian Henninger, Tiger Woods" is a list
            and sum(w[0].isupper() for w in words) >= 0.6 * len(words)
        ):
            raw = match.group()
            start = match.start() + len(raw) - len(raw.lstrip())
            ranges.append((start, start + len(line)))
    return ranges


def _inside(span: tuple[int, int], ranges: Sequence[tuple[int, int]]) -> bool:
    """Inside a heading and not the whole line (a line that is only a name is a byline)."""
    return any(
        start <= span[0] and span[1] <= end and (span[0], span[1]) != (start, end)
        for start, end in ranges
    )


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'")).strip().casefold()
