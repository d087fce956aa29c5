"""The faster enrichment steps give exactly what the straightforward code gives.

Each fast path (a row-major language table, remembered screening matches, counted
screening candidates, MinHash digests read at once, keyword breaks found in one pass and
memoised word keys) is compared with the plain computation it replaced, on the samples,
BBC articles and long synthetic texts. bench/stages.py measures what each one saves.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import orjson
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from streams.enrich import Screener, dedup, keywords, load_screener, screening
from streams.enrich.language import _identifier, detect_language, prose
from streams.messages import Entity
from streams.tokens import Tokens, alnum_runs, tokenize

ROOT = Path(__file__).parents[2]
SHARED = ROOT.parent / "shared" / "data"
FOREIGN = [
    "Die Bundesregierung hat am Dienstag neue Sanktionen gegen russische Banken beschlossen, "
    "die nach Angaben des Ministeriums sofort in Kraft treten.",
    "Le gouvernement français a annoncé mardi de nouvelles mesures pour soutenir les "
    "exportations agricoles vers les pays voisins.",
    "O governo brasileiro anunciou nesta terça-feira novas tarifas sobre a importação de aço "
    "e alumínio da China.",
    "Il governo italiano ha approvato ieri sera il decreto che introduce nuovi dazi sulle "
    "importazioni di acciaio.",
    "Правительство России в четверг объявило о новых ограничениях на экспорт зерна.",
]


def _samples() -> list[str]:
    texts = []
    for line in (ROOT / "samples" / "articles.jsonl").read_bytes().splitlines():
        if line.strip():
            article = orjson.loads(line)
            texts.append(article.get("text") or article.get("html") or "")
    texts.append((ROOT / "samples" / "seed_article.txt").read_text(encoding="utf-8"))
    return texts


def _bbc(n: int) -> list[str]:
    with (SHARED / "bbc" / "bbc_news.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    return [f"{row['title']}\n\n{row['text']}" for row in rows]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Samples, BBC articles, other languages and long texts stitched from them."""
    bbc = _bbc(150)
    rng = random.Random(12)
    long_texts = ["\n\n".join(rng.sample(bbc, 30)) for _ in range(3)]
    punctuated = " ".join(rng.sample(bbc, 5)).replace(" ", " — ", 50).replace(".", ";\n", 40)
    return [*_samples(), *bbc, *FOREIGN, *long_texts, punctuated, "", "a", "Tariffs."]


# --- language ------------------------------------------------------------------------


def test_language_table_is_row_major_and_scores_exactly_as_py3langid(texts: list[str]) -> None:
    ours = _identifier()
    library = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    library.set_languages(list(ours.nb_classes))
    assert ours.nb_ptc.flags["C_CONTIGUOUS"] and not library.nb_ptc.flags["C_CONTIGUOUS"]
    assert np.array_equal(ours.nb_ptc, library.nb_ptc)
    for text in texts:
        for sample in (prose(text[:2000]), text[:2000]):
            assert np.array_equal(ours._decide(sample), library._decide(sample))
    assert [detect_language(t) for t in FOREIGN] == ["de", "fr", "pt", "it", "ru"]


# --- screening -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def screener() -> Screener:
    root = SHARED / "sanctions"
    loaded = load_screener(
        ofac_paths=[
            root / "ofac_sdn" / "sdn.csv",
            root / "ofac_consolidated_nonsdn" / "cons_prim.csv",
        ],
        un_paths=[root / "un_consolidated" / "UN_consolidated.xml"],
    )
    assert loaded is not None
    return loaded


def _names_to_screen(screener: Screener, texts: list[str]) -> list[tuple[str, screening.Kind]]:
    """Listed names (as listed, upper case, one letter changed, first and last word only)
    and capitalised word pairs from the texts: hits, near misses and plain news names."""
    names: set[tuple[str, screening.Kind]] = set()
    for name in screener._names[::25]:
        words = name.text.split()
        for variant in (name.text, name.text.upper(), name.text.replace("a", "e", 1)):
            names.add((variant, name.entry.kind))
        if len(words) > 2:
            names.add((f"{words[0]} {words[-1]}", name.entry.kind))
    for text in texts[:60]:
        for pair in re.findall(r"[A-Z][a-z]+ [A-Z][a-z]+", text):
            names.update({(pair, "person"), (pair, "org")})
    return sorted(names)


def _plain_candidates(
    screener: Screener, kind: screening.Kind, keys: list[str], needed: int
) -> list[screening._Name]:
    hits: dict[int, int] = defaultdict(int)
    for prefix in {screening._block(k) for k in keys}:
        for position in screener._index.get((kind, prefix), ()):
            hits[position] += 1
    return [screener._names[p] for p, n in hits.items() if n >= needed]


def test_counted_candidates_are_the_plain_count(screener: Screener, texts: list[str]) -> None:
    for text, kind in _names_to_screen(screener, texts)[:3000]:
        keys = list(screening._keys(text))
        for needed in (1, 2):
            assert screener._candidates(kind, keys, needed) == _plain_candidates(
                screener, kind, keys, needed
            )


def test_remembered_matches_are_the_computed_ones(screener: Screener, texts: list[str]) -> None:
    names = _names_to_screen(screener, texts)
    computed = [
        screener._match_person(t) if k == "person" else screener._match_org(t) for t, k in names
    ]
    assert sum(1 for found in computed if found) > 100  # the comparison covers real hits
    for _ in range(2):  # first computed and remembered, then read back
        assert [screener.match(t, k) for t, k in names] == computed
    first = screener.match("Kim Jong Un", "person")
    first.clear()  # a caller changing its list does not change what is remembered
    assert screener.match("Kim Jong Un", "person")


def test_remembered_matches_are_bounded(
    screener: Screener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(screening, "_MATCH_CACHE_NAMES", 3)
    fresh = Screener(entry for entry in {n.entry for n in screener._names[:500]})
    for name in ("Ali Hassan", "Kim Jong Un", "Igor Sechin", "Ayman Zawahiri", "Bashar Assad"):
        fresh.match(name, "person")
        assert len(fresh._matches) <= 3


def test_screening_an_article_twice_gives_the_same_hits(screener: Screener) -> None:
    entities = [
        Entity(name=name, label=label, spans=[(0, len(name))], count=1)
        for name, label in (
            ("Kim Jong Un", "PERSON"),
            ("Yevgeny Prigozhin", "PERSON"),
            ("Hezbollah", "ORG"),
            ("Bank Melli", "ORG"),
            ("Tony Blair", "PERSON"),
        )
    ]
    first = screener.screen(entities)
    assert first and screener.screen(entities) == first


# --- duplicates ----------------------------------------------------------------------


def _plain_minhash(words: list[str]) -> tuple[int, ...]:
    shingles = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
    hashes = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")
            for s in shingles
        ),
        dtype=np.uint64,
        count=len(shingles),
    )
    values = hashes[:, None] ^ dedup._SEEDS[None, :]
    values = (values ^ (values >> np.uint64(30))) * dedup._M1
    values = (values ^ (values >> np.uint64(27))) * dedup._M2
    values ^= values >> np.uint64(31)
    return tuple(int(v) for v in values.min(axis=0))


def test_minhash_is_the_plain_computation(texts: list[str]) -> None:
    for text in texts:
        words = alnum_runs(text.casefold())
        if len(words) >= 3:
            signature = dedup.minhash(words)
            assert signature == _plain_minhash(words)
            assert all(type(value) is int for value in signature)


# --- keywords ------------------------------------------------------------------------


def _plain_keywords(tokens: Tokens, exclude: list[str], limit: int = 10) -> list[str]:
    excluded = {w.lower() for name in exclude for w in alnum_runs(name)}
    units: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    surfaces: dict[str, Counter[str]] = {}
    previous: str | None = None
    previous_end = 0
    for word, (start, end) in zip(tokens.words, tokens.offsets, strict=True):
        broken = bool(keywords._BREAK.search(tokens.text[previous_end:start]))
        previous_end = end
        if not keywords._is_content(word) or word in excluded:
            previous = None
            continue
        key = keywords._stem(word)
        units[key] += 1
        surfaces.setdefault(key, Counter())[word] += 1
        if previous is not None and not broken:
            pairs[(previous, key)] += 1
        previous = key
    scores: dict[str, float] = {}
    shown = {key: forms.most_common(1)[0][0] for key, forms in surfaces.items()}
    for key, count in units.items():
        scores[shown[key]] = float(count)
    for (first, second), count in pairs.items():
        if count >= 2:
            scores[f"{shown[first]} {shown[second]}"] = count * keywords._PHRASE_BONUS * 2
    result: list[str] = []
    for phrase in sorted(scores, key=lambda k: (-scores[k], k)):
        if not any(phrase in kept.split() for kept in result):
            result.append(phrase)
            if len(result) == limit:
                break
    return result


def test_keywords_are_the_plain_computation(texts: list[str]) -> None:
    for text in texts:
        tokens = tokenize(text)
        names = re.findall(r"[A-Z][a-z]+(?: [A-Z][a-z]+)*", text)[:20]
        for exclude, limit in (([], 10), (names, 10), (names, 40)):
            expected = _plain_keywords(tokens, exclude, limit)
            assert keywords.extract_keywords(tokens, exclude=exclude, limit=limit) == expected


def test_remembered_word_keys_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keywords, "_KEYS", {})
    monkeypatch.setattr(keywords, "_KEYS_LIMIT", 5)
    words = ["sanctions", "tariffs", "the", "exporters", "duties", "quotas", "said", "ministries"]
    assert [keywords._content_key(w) for w in words] == [
        "sanction",
        "tariff",
        None,
        "exporter",
        "duty",
        "quota",
        None,
        "ministry",
    ]
    assert len(keywords._KEYS) <= 5
