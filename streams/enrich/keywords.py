"""Keyphrases: frequent content words and repeated two-word phrases.

Names are left out (they are in ``entities`` already); plural and singular count as
one ("sanction"/"sanctions"), shown in the form the article uses most often. Cheap
enough to run on every article: one pass over the tokens.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from spacy.lang.en.stop_words import STOP_WORDS

from streams.tokens import Tokens, alnum_runs

_EXTRA_STOP = frozenset(
    {
        "said",
        "says",
        "say",
        "told",
        "added",
        "according",
        "also",
        "would",
        "could",
        "new",
        "year",
        "years",
        "time",
        "mr",
        "mrs",
        "ms",
        "per",
        "cent",
        "percent",
        "including",
        "like",
        "just",
        "still",
        "well",
        "many",
        "much",
        "want",
        "wants",
        "need",
        "needs",
        "make",
        "made",
        "way",
        "people",
        "thing",
        "things",
        "lot",
        "far",
        "set",
        "week",
        "weeks",
        "month",
        "months",
        "day",
        "days",
    }
)
_STOP = frozenset(STOP_WORDS) | _EXTRA_STOP
_BREAK = re.compile(r"[.,;:!?()\[\]\"“”—–]|\n")
_PHRASE_BONUS = 1.5


def extract_keywords(tokens: Tokens, *, exclude: Iterable[str] = (), limit: int = 10) -> list[str]:
    """Up to ``limit`` keyphrases, best first; words of ``exclude`` (entity names) left out."""
    excluded = {w.lower() for name in exclude for w in alnum_runs(name)}
    units: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    surfaces: dict[str, Counter[str]] = {}
    previous: str | None = None
    previous_end = 0
    # Where punctuation breaks a phrase, found in one pass; a pointer follows the words.
    breaks = [m.start() for m in _BREAK.finditer(tokens.text)]
    next_break = 0
    for word, (start, end) in zip(tokens.words, tokens.offsets, strict=True):
        while next_break < len(breaks) and breaks[next_break] < previous_end:
            next_break += 1
        broken = next_break < len(breaks) and breaks[next_break] < start
        previous_end = end
        key = _content_key(word)
        if key is None or word in excluded:
            previous = None
            continue
        units[key] += 1
        forms = surfaces.get(key)
        if forms is None:  # not setdefault: it would build a Counter for every word
            forms = surfaces[key] = Counter()
        forms[word] += 1
        if previous is not None and not broken:
            pairs[(previous, key)] += 1
        previous = key
    scores: dict[str, float] = {}
    shown = {key: forms.most_common(1)[0][0] for key, forms in surfaces.items()}
    for key, count in units.items():
        scores[shown[key]] = float(count)
    for (first, second), count in pairs.items():
        if count >= 2:
            scores[f"{shown[first]} {shown[second]}"] = count * _PHRASE_BONUS * 2
    ranked = sorted(scores, key=lambda k: (-scores[k], k))
    result: list[str] = []
    for phrase in ranked:
        if any(phrase in kept.split() for kept in result):
            continue
        result.append(phrase)
        if len(result) == limit:
            break
    return result


_KEYS: dict[str, str | None] = {}
_KEYS_LIMIT = 200_000


def _content_key(word: str) -> str | None:
    """The counting key of a content word (its stem), None for any other word; memoised,
    since an article's words are mostly words seen before."""
    try:
        return _KEYS[word]
    except KeyError:
        pass
    key = _stem(word) if _is_content(word) else None
    if len(_KEYS) >= _KEYS_LIMIT:
        _KEYS.clear()
    _KEYS[word] = key
    return key


def _is_content(word: str) -> bool:
    return len(word) > 2 and word[0].isalpha() and word not in _STOP and "'" not in word


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
