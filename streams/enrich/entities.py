"""From NER mentions to entities: each once per article, with a canonical name.

Input is ``(start, end, label)`` triples with OntoNotes labels (spaCy's ``doc.ents``),
so any NER model can feed it. Steps:

1. trim each mention (leading "the", titles such as "President", a trailing "'s");
2. add persons the model missed where a role names them ("ambassador to China, Igor
   Morgulov," / "Sergei Shoigu, Russia's top security official");
3. merge short forms into the full name they abbreviate ("Morgulov", "President Xi"
   -> "Igor Morgulov", "Xi Jinping"), whatever label the model gave the short form;
4. drop persons that only occur in Title Case headings ("Leadership Ties"): NER guesses
   names from capital letters, which headings give every word;
5. map places to ISO 3166-1 alpha-2 codes.

Every span is verified: ``body[start:end]`` is the mention.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

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
_LEADING_TITLE = re.compile(rf"^{_TITLES}\s+(?=[A-Z])")
_LEADING_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
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


def extract_entities(body: str, mentions: Iterable[Mention]) -> tuple[list[Entity], list[str]]:
    """Entities of ``body`` (most mentioned first) and the ISO codes of the places in it."""
    trimmed = [m for m in (_trim(body, *mention) for mention in mentions) if m is not None]
    trimmed = _add_role_persons(body, trimmed)
    clusters = _cluster(body, trimmed)
    headings = _heading_ranges(body)
    entities = [
        Entity(name=_canonical(c), label=c.label, spans=sorted(c.spans), count=len(c.spans))
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
    for pattern in (_LEADING_ARTICLE, _LEADING_TITLE) if label in _NAME_LABELS else ():
        match = pattern.match(text)
        if match and match.end() < len(text):
            start, text = start + match.end(), text[match.end() :]
    match = _TRAILING.search(text)
    if match and match.start() > 0:
        end, text = start + match.start(), text[: match.start()]
    if not text.strip() or (label in _NAME_LABELS and not any(ch.isupper() for ch in text)):
        return None
    return start, end, label


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
        return max(cluster.names, key=lambda n: (len(n.split()), len(n)))
    forms = dict.fromkeys(cluster.names)  # distinct, in the order first seen
    return max(forms, key=lambda n: (cluster.names.count(n), len(n), not n.isupper()))


def _countries(entities: Iterable[Entity]) -> list[str]:
    codes: list[str] = []
    for entity in entities:
        code = country_code(entity.name) if entity.label in PLACE_LABELS else None
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
