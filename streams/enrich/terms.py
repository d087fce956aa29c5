"""Fast matching of weighted term lists (words, phrases, wildcards) on tokens.

Shared by categories and watch topics. Text is tokenised once into lower-case words
with their character offsets (``streams.tokens.tokenize``); a term list is indexed
by its first word, so matching costs one dictionary lookup per token (plus one per prefix
or suffix length for wildcards), never one regular expression per term.

A term word is matched exactly, or with wildcards:

* ``tariff*``: any word starting with ``tariff`` (inflections: tariffs, tariffed);
* ``*zölle``: any word ending with ``zölle`` (German compounds name their head last:
  Strafzölle, Einfuhrzölle, US-Zölle);
* ``*sanktion*``: any word containing ``sanktion`` (EU-Sanktionen, Sanktionspaket).

Words and terms are compared accent-insensitively (``fold_accents``): headlines in
capitals often drop accents, and a term list should not need both spellings (two terms of
one list that compare equal count once, with the weight written last). German umlauts
fold to their two-letter spelling (ö -> oe), not to the bare vowel, so ``Zöllen``
(duties) stays apart from ``zollen`` (to pay).
French and Italian elided articles and prepositions are not part of the word they are
written onto (``l'accord``, ``dell'export`` are compared as ``accord``, ``export``), so
a term names the noun once, whatever precedes it.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

# Tokens and tokenize are re-exported: categories, topics and the pipeline import them here.
from streams.tokens import Tokens as Tokens
from streams.tokens import fold_word, sentence_span
from streams.tokens import tokenize as tokenize


@dataclass(frozen=True, slots=True)
class Hit:
    term: str
    first: int  # index of the first word
    last: int  # index of the last word (inclusive)


def sentence_at(tokens: Tokens, index: int) -> str:
    """The sentence around word ``index``, for evidence an analyst can read."""
    left, right = sentence_span(tokens.text, *tokens.offsets[index])
    return tokens.text[left:right].strip()


_GERMAN_FOLDS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


@lru_cache(maxsize=65_536)
def _fold_non_ascii(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.translate(_GERMAN_FOLDS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# French and Italian elisions written onto the next word: l'accordo, dell'export, d'état.
_ELISIONS = frozenset(
    {
        *("l", "d", "j", "m", "n", "s", "t", "c", "qu", "lorsqu", "puisqu", "jusqu"),  # fr
        *("un", "all", "dall", "dell", "nell", "sull", "coll", "quell", "quest"),  # it
    }
)


def match_form(word: str) -> str:
    """A word as terms are compared to it: accents folded, an elided article dropped."""
    word = fold_accents(word)
    head, apostrophe, rest = word.partition("'")
    return rest if apostrophe and rest and head in _ELISIONS else word


def fold_accents(word: str) -> str:
    """A lower-case word without accents, German umlauts spelt out: ``"zölle"`` -> ``"zoelle"``,
    ``"sanción"`` -> ``"sancion"``, ``"contrôle"`` -> ``"controle"``; ASCII is unchanged."""
    return word if word.isascii() else _fold_non_ascii(word)


class Lexicon:
    """Several labelled term lists matched in one pass: ``{label: {term: weight}}``.

    Candidates for a word (its exact and wildcard terms) are cached per word, so a
    token costs one dictionary lookup once the vocabulary has been seen. ``weights`` keys
    are the terms as written in the list (lower case); hits name them that way.
    """

    _CACHE_LIMIT = 200_000

    def __init__(self, lists: Mapping[str, Mapping[str, float]]) -> None:
        self.weights: dict[str, dict[str, float]] = {
            label: {_normalise(term): float(w) for term, w in terms.items()}
            for label, terms in lists.items()
        }
        # Matched on folded words; a hit names the term as written (``self.weights`` key).
        owners: dict[tuple[str, ...], list[str]] = defaultdict(list)
        self._term_names: dict[tuple[tuple[str, ...], str], str] = {}
        for label, terms in self.weights.items():
            for term in terms:
                parts = tuple(match_form(part) for part in term.split())
                if (parts, label) not in self._term_names:
                    owners[parts].append(label)
                self._term_names[(parts, label)] = term
        self._owners = {parts: tuple(labels) for parts, labels in owners.items()}
        self._exact: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        self._prefix: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        self._suffix: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        self._infix: list[tuple[str, tuple[str, ...]]] = []
        for parts in self._owners:
            first = parts[0]
            if len(first) > 2 and first.startswith("*") and first.endswith("*"):
                self._infix.append((first[1:-1], parts))
            elif len(first) > 1 and first.startswith("*"):
                self._suffix[first[1:]].append(parts)
            elif first.endswith("*"):
                self._prefix[first[:-1]].append(parts)
            else:
                self._exact[first].append(parts)
        self._prefix_lengths = sorted({len(p) for p in self._prefix})
        self._suffix_lengths = sorted({len(s) for s in self._suffix})
        self._cache: dict[str, tuple[tuple[str, ...], ...]] = {}

    def find(self, tokens: Tokens) -> dict[str, list[Hit]]:
        """Every occurrence of every term, per label; the longest term wins at a position."""
        hits: dict[str, list[Hit]] = {label: [] for label in self.weights}
        words = tokens.words  # folded (match_form) only where a term may start: see _matches
        for index, word in enumerate(words):
            taken: set[str] = set()
            for parts in self._candidates(word):
                if _matches(parts, words, index):
                    for label in self._owners[parts]:
                        if label not in taken:
                            taken.add(label)
                            term = self._term_names[(parts, label)]
                            hits[label].append(Hit(term, index, index + len(parts) - 1))
        return hits

    def _candidates(self, word: str) -> tuple[tuple[str, ...], ...]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        written, word = word, match_form(word)
        found = list(self._exact.get(word, ()))
        for length in self._prefix_lengths:
            if length > len(word):
                break
            found.extend(self._prefix.get(word[:length], ()))
        for length in self._suffix_lengths:
            if length > len(word):
                break
            found.extend(self._suffix.get(word[-length:], ()))
        found.extend(parts for infix, parts in self._infix if infix in word)
        result = tuple(sorted(found, key=len, reverse=True))
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[written] = result
        return result


class TermList:
    """One weighted term list: ``"tariff*": 2.0``, ``"trade war": 3.0``, ``"wto": 1.5``."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self._lexicon = Lexicon({"": weights})
        self.weights = self._lexicon.weights[""]

    def find(self, tokens: Tokens) -> list[Hit]:
        """Every occurrence of every term, longest match first at each position."""
        return self._lexicon.find(tokens)[""]


def _matches(parts: Sequence[str], words: Sequence[str], index: int) -> bool:
    if index + len(parts) > len(words):
        return False
    return all(
        _word_matches(part, match_form(words[index + offset])) for offset, part in enumerate(parts)
    )


def _word_matches(part: str, word: str) -> bool:
    if len(part) > 2 and part.startswith("*") and part.endswith("*"):
        return part[1:-1] in word
    if len(part) > 1 and part.startswith("*"):
        return word.endswith(part[1:])
    if part.endswith("*"):
        return word.startswith(part[:-1])
    return word == part


def _normalise(term: str) -> str:
    """Write a term the way ``tokenize`` writes words: lower case, no closing full stop."""
    words = fold_word(term).split()
    return " ".join(w if w.endswith("*") else w.rstrip(".,;:") for w in words)
