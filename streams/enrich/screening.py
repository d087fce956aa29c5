"""Sanctions screening: PERSON and ORG entities against OFAC and UN lists.

Lists are read from their official formats:

* OFAC legacy CSV (``sdn.csv`` and the consolidated non-SDN ``cons_prim.csv``): no header,
  nulls written ``-0-``, several programs in one field separated by ``] [``, a Ctrl-Z byte
  at the end; aliases come from the ``alt.csv`` / ``cons_alt.csv`` beside the primary file.
* UN Security Council consolidated list XML (``INDIVIDUAL`` / ``ENTITY`` with aliases).

Matching works on name tokens, order-free ("KIM, Jong Un" = "Kim Jong Un"), after
transliteration to ASCII and a spelling key that folds common romanisation variants
("Sergei"/"Sergey", "Yevgeniy"/"Evgeny", "Mohammed"/"Muhammad"). A person matches
an entry name only when every token of the entity's name matches a token of the entry
and at least two distinctive tokens do (particles such as "al", "bin" do not count), so
a common given name or surname alone never produces a hit. Organisations match on the
whole name without legal-form words ("LLC", "Ltd.").
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Literal

from rapidfuzz.distance import JaroWinkler
from rapidfuzz.fuzz import token_sort_ratio

from streams.errors import ConfigError
from streams.messages import Entity, ScreeningHit
from streams.tokens import name_tokens

Kind = Literal["person", "org"]

_PARTICLES = frozenset(
    {
        "al",
        "el",
        "bin",
        "ibn",
        "bint",
        "abu",
        "abd",
        "de",
        "da",
        "del",
        "der",
        "di",
        "van",
        "von",
        "la",
        "le",
        "du",
        "dos",
        "das",
        "y",
        "ben",
        "ould",
        "mc",
        "mac",
        "st",
    }
)
_LEGAL_FORMS = frozenset(
    {
        "llc",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "co",
        "corp",
        "corporation",
        "company",
        "plc",
        "sa",
        "s",
        "a",
        "ag",
        "gmbh",
        "jsc",
        "ojsc",
        "pjsc",
        "cjsc",
        "ooo",
        "oao",
        "zao",
        "ao",
        "pao",
        "fze",
        "fzco",
        "fzc",
        "bv",
        "nv",
        "srl",
        "spa",
        "sarl",
        "sas",
        "kg",
        "pte",
        "sdn",
        "bhd",
        "the",
        "of",
        "and",
        "group",
        "holding",
        "holdings",
        "trading",
        "llp",
        "lp",
    }
)
# Romanisation variants folded into one spelling key, applied in order.
_SPELLING = (
    ("dzh", "j"),
    ("dj", "j"),
    ("zh", "j"),
    ("kh", "h"),
    ("gh", "g"),
    ("ph", "f"),
    ("sch", "sh"),
    ("tch", "ch"),
    ("ck", "k"),
    ("q", "k"),
    ("c", "k"),
    ("x", "ks"),
    ("w", "v"),
    ("ye", "e"),
    ("yi", "i"),
    ("iy", "i"),
    ("ey", "i"),
    ("ei", "i"),
    ("ay", "ai"),
    ("y", "i"),
    ("ou", "u"),
    ("oo", "u"),
    ("ee", "i"),
    ("ae", "a"),
)
_VOWELS = re.compile(r"(?<=.)[aeiou]")
_DOUBLE = re.compile(r"(.)\1+")
_TOKEN_MIN_SIMILARITY = 0.9
_COMMON_TOKEN_ENTRIES = 25
MIN_SCORE = 0.9
# News names the same people and companies article after article: a name's matches are
# remembered (the lists do not change once loaded), up to this many names.
_MATCH_CACHE_NAMES = 50_000


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One designated person or organisation, with every name it is listed under."""

    list_name: str
    entry_id: str
    name: str
    kind: Kind
    programs: tuple[str, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Name:
    entry: ListEntry
    keys: tuple[str, ...]  # spelling keys of distinctive tokens
    all_keys: tuple[str, ...]
    surnames: frozenset[str]  # spelling keys of the listed surname, when the list marks it
    text: str


class Screener:
    """Screens entities against the loaded list entries. Build once; ``screen`` is fast."""

    def __init__(self, entries: Iterable[ListEntry], *, min_score: float = MIN_SCORE) -> None:
        self._min_score = min_score
        self._names: list[_Name] = []
        self._index: dict[tuple[Kind, str], list[int]] = defaultdict(list)
        self._org_exact: dict[str, list[int]] = defaultdict(list)
        self._matches: dict[tuple[str, Kind], tuple[tuple[_Name, float], ...]] = {}
        self._entries = 0
        for entry in entries:
            self._entries += 1
            for text in (entry.name, *entry.aliases):
                self._add(entry, text)
        # Tokens in many listed person names ("mohammed", "ali", "kim") are common: a hit
        # needs at least one matched token that is not.
        frequency: dict[str, set[str]] = defaultdict(set)
        for name in self._names:
            if name.entry.kind == "person":
                for key in name.keys:
                    frequency[key].add(name.entry.entry_id)
        self._common = frozenset(
            k for k, ids in frequency.items() if len(ids) >= _COMMON_TOKEN_ENTRIES
        )

    def __len__(self) -> int:
        """Number of list entries loaded."""
        return self._entries

    def screen(self, entities: Sequence[Entity]) -> list[ScreeningHit]:
        """Hits for the PERSON and ORG entities, best first, one per entity and entry.

        Equal scores go by list, entry and entity: candidates are gathered in an order that
        follows string hashing, which differs between processes, and two workers must write
        the same document for the same article."""
        best: dict[tuple[str, str, str], ScreeningHit] = {}
        for entity in entities:
            kind: Kind | None = {"PERSON": "person", "ORG": "org"}.get(entity.label)  # type: ignore[assignment]
            if kind is None:
                continue
            for name, score in self.match(entity.name, kind):
                key = (entity.name, name.entry.list_name, name.entry.entry_id)
                if key not in best or best[key].score < score:
                    best[key] = ScreeningHit(
                        entity=entity.name,
                        list=name.entry.list_name,
                        entry_id=name.entry.entry_id,
                        entry_name=name.entry.name,
                        programs=list(name.entry.programs),
                        score=round(score, 4),
                    )
        return sorted(best.values(), key=lambda h: (-h.score, h.list, h.entry_id, h.entity))

    def match(self, text: str, kind: Kind) -> list[tuple[_Name, float]]:
        """Entry names ``text`` matches with a score of at least ``min_score``."""
        found = self._matches.get((text, kind))
        if found is None:
            found = tuple(self._match_person(text) if kind == "person" else self._match_org(text))
            if len(self._matches) >= _MATCH_CACHE_NAMES:
                self._matches.clear()
            self._matches[(text, kind)] = found
        return list(found)

    def _add(self, entry: ListEntry, text: str) -> None:
        surnames: frozenset[str] = frozenset()
        if entry.kind == "person" and "," in text:  # OFAC writes "SURNAME, Given Names"
            last, _, given = text.partition(",")
            surnames = frozenset(_keys(last)) - _PARTICLE_KEYS
            text = f"{given} {last}"
        all_keys = _keys(text) if entry.kind == "person" else _org_keys(text)
        keys = tuple(k for k in all_keys if k not in _PARTICLE_KEYS)
        if not keys:
            return
        position = len(self._names)
        self._names.append(_Name(entry, keys, all_keys, surnames, text))
        if entry.kind == "org":
            self._org_exact[" ".join(sorted(keys))].append(position)
        for key in set(keys):
            self._index[(entry.kind, _block(key))].append(position)

    def _candidates(self, kind: Kind, keys: Sequence[str], needed: int) -> list[_Name]:
        """Names sharing at least ``needed`` lookup keys with ``keys``, in first-seen order."""
        blocks = (self._index.get((kind, prefix), ()) for prefix in {_block(k) for k in keys})
        hits = Counter(chain.from_iterable(blocks))  # counted in C: blocks run to thousands
        return [self._names[p] for p, n in hits.items() if n >= needed]

    def _match_person(self, text: str) -> list[tuple[_Name, float]]:
        keys = [k for k in _keys(text) if k not in _PARTICLE_KEYS]
        if len(keys) < 2:  # one token (a surname alone) is never enough
            return []
        found = []
        if all(_is_common(k, self._common) for k in keys):
            return []
        for name in self._candidates("person", keys, needed=min(2, len({_block(k) for k in keys}))):
            score = _person_score(keys, name, self._common)
            if score >= self._min_score:
                found.append((name, score))
        return found

    def _match_org(self, text: str) -> list[tuple[_Name, float]]:
        keys = [k for k in _org_keys(text) if k not in _PARTICLE_KEYS]
        if not keys or (len(keys) == 1 and len(keys[0]) < 5):
            return []
        exact = [(self._names[p], 1.0) for p in self._org_exact.get(" ".join(sorted(keys)), ())]
        if exact:
            return exact
        if len(keys) == 1:  # one word: close spellings only ("Hezbollah" / "HIZBALLAH")
            return [
                (name, score)
                for name in self._candidates("org", keys, needed=1)
                if len(name.keys) == 1
                and len(keys[0]) >= 6
                and (score := _similarity(keys[0], name.keys[0])) >= self._min_score
            ]
        found = []
        joined = " ".join(keys)
        for name in self._candidates("org", keys, needed=2):
            score = token_sort_ratio(joined, " ".join(name.keys)) / 100.0
            if score >= self._min_score and len(name.keys) > 1:
                found.append((name, score))
        return found


def _is_common(key: str, common: frozenset[str]) -> bool:
    return key in common or len(key) < 3


def _person_score(keys: Sequence[str], name: _Name, common: frozenset[str]) -> float:
    """Every entity token must match a distinct entry token; extra entry tokens cost a little.

    Listed names carry patronymics and middle names news leaves out ("Yevgeniy Viktorovich
    Prigozhin" reported as "Yevgeny Prigozhin"), so missing entry tokens weigh 0.1 each.
    """
    available = list(name.keys)
    # A name starts with the given name or, in family-first order, the family name:
    # "Saddam Hussein" is not "Uday Saddam Hussein".
    first = keys[0]
    if not any(
        _similarity(first, k) >= _TOKEN_MIN_SIMILARITY for k in (available[0], *name.surnames)
    ):
        return 0.0
    total = 0.0
    matched_surname = not name.surnames
    distinctive = False
    for key in keys:
        best, best_index = 0.0, -1
        for index, candidate in enumerate(available):
            similarity = _similarity(key, candidate)
            if similarity > best:
                best, best_index = similarity, index
        if best < _TOKEN_MIN_SIMILARITY:
            return 0.0
        matched = available[best_index]
        matched_surname = matched_surname or matched in name.surnames
        distinctive = distinctive or not (_is_common(key, common) or _is_common(matched, common))
        total += best
        available.pop(best_index)
    if not (matched_surname and distinctive):
        return 0.0
    return total / len(keys) - 0.1 * min(len(available), 2) / 2


def _spelling_key(token: str) -> str:
    for old, new in _SPELLING:
        token = token.replace(old, new)
    return _DOUBLE.sub(r"\1", token)


def _block(key: str) -> str:
    """Lookup key of a token: its first three consonants, robust to vowel spellings."""
    return _VOWELS.sub("", key)[:3]


def _similarity(a: str, b: str) -> float:
    """Token similarity; equal consonant skeletons ("mohamed"/"muhamad") count as close."""
    if a == b:
        return 1.0
    similarity = JaroWinkler.normalized_similarity(a, b)
    if similarity < _TOKEN_MIN_SIMILARITY and len(a) >= 4 and a[0] == b[0]:
        skeleton_a, skeleton_b = _VOWELS.sub("", a), _VOWELS.sub("", b)
        if skeleton_a == skeleton_b and len(skeleton_a) >= 3:
            return _TOKEN_MIN_SIMILARITY
    return float(similarity)


def _keys(text: str) -> tuple[str, ...]:
    return tuple(_spelling_key(t) for t in name_tokens(text))


def _org_keys(text: str) -> tuple[str, ...]:
    tokens = [t for t in name_tokens(text) if t not in _LEGAL_FORMS]
    return tuple(_spelling_key(t) for t in tokens)


_PARTICLE_KEYS = frozenset(_spelling_key(p) for p in _PARTICLES)


# --- loading the official formats -----------------------------------------------------


def load_screener(
    *, ofac_paths: Sequence[Path] = (), un_paths: Sequence[Path] = ()
) -> Screener | None:
    """A Screener over every configured list; None when none is configured (screening off)."""
    if not ofac_paths and not un_paths:
        return None
    entries: list[ListEntry] = []
    for path in ofac_paths:
        for primary in ofac_primary_files(path):
            entries.extend(read_ofac_csv(primary))
    for path in un_paths:
        entries.extend(read_un_xml(path))
    return Screener(entries)


# OFAC publishes each list as a folder of CSV files; the primary one names the entries.
_OFAC_PRIMARY_FILES = ("sdn.csv", "cons_prim.csv")


def ofac_primary_files(path: Path) -> list[Path]:
    """``path`` itself, or the primary CSVs of an OFAC download folder (SDN, consolidated)."""
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.iterdir() if p.name.lower() in _OFAC_PRIMARY_FILES)
    if not found:
        raise ConfigError(
            f"no OFAC list in folder {path}: expected sdn.csv or cons_prim.csv (as OFAC "
            "publishes them); point NEWSSTREAM_SANCTIONS_OFAC_PATHS at the folder or the file"
        )
    return found


def read_ofac_csv(path: Path) -> list[ListEntry]:
    """Entries of an OFAC legacy primary CSV, with aliases from its alt file if present."""
    list_name = "OFAC SDN" if path.name.lower().startswith("sdn") else "OFAC Consolidated"
    aliases: dict[str, list[str]] = defaultdict(list)
    alt_path = path.with_name("alt.csv" if list_name == "OFAC SDN" else "cons_alt.csv")
    if alt_path.exists():
        for row in _ofac_rows(alt_path):
            if len(row) >= 4 and _value(row[3]):
                aliases[row[0].strip()].append(_value(row[3]) or "")
    entries = []
    for row in _ofac_rows(path):
        if len(row) < 4 or not _value(row[1]):
            continue
        sdn_type = (_value(row[2]) or "").lower()
        if sdn_type in ("vessel", "aircraft"):
            continue
        entry_id = row[0].strip()
        programs = tuple(p.strip(" []") for p in (_value(row[3]) or "").split("] [") if p.strip())
        entries.append(
            ListEntry(
                list_name=list_name,
                entry_id=entry_id,
                name=_value(row[1]) or "",
                kind="person" if sdn_type == "individual" else "org",
                programs=programs,
                aliases=tuple(aliases.get(entry_id, ())),
            )
        )
    return entries


def _ofac_rows(path: Path) -> Iterable[list[str]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read OFAC list {path}: {exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    text = text.replace("\x1a", "")
    return csv.reader(io.StringIO(text))


def _value(field: str) -> str | None:
    field = field.strip()
    return None if field in ("-0-", "") else field


def read_un_xml(path: Path) -> list[ListEntry]:
    """Entries of the UN Security Council consolidated list (official XML schema)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ConfigError(f"cannot read UN consolidated list {path}: {exc}") from exc
    entries = []
    for tag, kind, alias_tag in (
        ("INDIVIDUAL", "person", "INDIVIDUAL_ALIAS"),
        ("ENTITY", "org", "ENTITY_ALIAS"),
    ):
        for node in root.iter(tag):
            parts = [
                (node.findtext(part) or "").strip()
                for part in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
            ]
            name = " ".join(p for p in parts if p)
            if not name:
                continue
            aliases = [
                (alias.findtext("ALIAS_NAME") or "").strip()
                for alias in node.findall(alias_tag)
                if (alias.findtext("QUALITY") or "").strip().lower() != "low"
            ]
            original = (node.findtext("NAME_ORIGINAL_SCRIPT") or "").strip()
            entries.append(
                ListEntry(
                    list_name="UN",
                    entry_id=(
                        node.findtext("REFERENCE_NUMBER") or node.findtext("DATAID") or ""
                    ).strip(),
                    name=name,
                    kind=kind,  # type: ignore[arg-type]
                    programs=tuple(
                        p for p in ((node.findtext("UN_LIST_TYPE") or "").strip(),) if p
                    ),
                    aliases=tuple(a for a in (*aliases, original) if a),
                )
            )
    return entries
