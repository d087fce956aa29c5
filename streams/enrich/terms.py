"""Fast matching of weighted term lists (words, phrases, ``prefix*`` wildcards) on tokens.

Shared by categories and watch topics. Text is tokenised once into lower-case words
with their character offsets (``streams.tokens.tokenize``); a term list is indexed
by its first word, so matching costs one dictionary lookup per token (plus one per prefix
length for wildcards), never one regular expression per term.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


class Lexicon:
    """Several labelled term lists matched in one pass: ``{label: {term: weight}}``.

    Candidates for a word (its exact and ``prefix*`` terms) are cached per word, so a
    token costs one dictionary lookup once the vocabulary has been seen.
    """

    _CACHE_LIMIT = 200_000

    def __init__(self, lists: Mapping[str, Mapping[str, float]]) -> None:
        self.weights: dict[str, dict[str, float]] = {
            label: {_normalise(term): float(w) for term, w in terms.items()}
            for label, terms in lists.items()
        }
        owners: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for label, terms in self.weights.items():
            for term in terms:
                owners[tuple(term.split())].append(label)
        self._owners = {parts: tuple(labels) for parts, labels in owners.items()}
        self._exact: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        self._prefix: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for parts in self._owners:
            if parts[0].endswith("*"):
                self._prefix[parts[0][:-1]].append(parts)
            else:
                self._exact[parts[0]].append(parts)
        self._prefix_lengths = sorted({len(p) for p in self._prefix})
        self._cache: dict[str, tuple[tuple[str, ...], ...]] = {}

    def find(self, tokens: Tokens) -> dict[str, list[Hit]]:
        """Every occurrence of every term, per label; the longest term wins at a position."""
        hits: dict[str, list[Hit]] = {label: [] for label in self.weights}
        words = tokens.words
        for index, word in enumerate(words):
            taken: set[str] = set()
            for parts in self._candidates(word):
                if _matches(parts, words, index):
                    term = " ".join(parts)
                    for label in self._owners[parts]:
                        if label not in taken:
                            taken.add(label)
                            hits[label].append(Hit(term, index, index + len(parts) - 1))
        return hits

    def _candidates(self, word: str) -> tuple[tuple[str, ...], ...]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        found = list(self._exact.get(word, ()))
        for length in self._prefix_lengths:
            if length > len(word):
                break
            found.extend(self._prefix.get(word[:length], ()))
        result = tuple(sorted(found, key=len, reverse=True))
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = result
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
    for offset, part in enumerate(parts):
        word = words[index + offset]
        if part.endswith("*"):
            if not word.startswith(part[:-1]):
                return False
        elif word != part:
            return False
    return True


def _normalise(term: str) -> str:
    """Write a term the way ``tokenize`` writes words: lower case, no closing full stop."""
    words = fold_word(term).split()
    return " ".join(w if w.endswith("*") else w.rstrip(".,;:") for w in words)
