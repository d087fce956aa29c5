"""Exact and near-duplicate detection: SHA-256 of the normalised body + 64-bit SimHash.

A syndicated story republished on another site differs in a few words, a byline or a
trailing paragraph; its SimHash over word 3-shingles then differs in a few bits.
Two bodies are near-duplicates when their SimHashes differ in at most ``max_distance``
bits. Lookups use the pigeonhole trick: the 64 bits are cut into ``max_distance + 1``
bands, and two fingerprints within that distance agree on at least one whole band, so
a band is an exact-match key (a dict here, a keyword field in Elasticsearch).

``DuplicateIndex`` is the contract a store must meet; ``InMemoryDuplicateIndex`` is
the reference implementation, lost on restart.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import numpy as np

_WORD = re.compile(r"[^\W_]+")
_SHINGLE = 3
MAX_DISTANCE = 3
# Short texts (a headline, a stub) have too few shingles for SimHash to mean anything.
_MIN_WORDS_FOR_NEAR = 30
_BIT_POSITIONS = np.arange(64, dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies an article body: exact hash, SimHash and its lookup bands."""

    content_hash: str
    simhash: int | None  # None: too short to compare approximately

    def bands(self, max_distance: int = MAX_DISTANCE) -> list[str]:
        """``"<band>:<hex value>"`` keys; a near-duplicate shares at least one."""
        if self.simhash is None:
            return []
        count = max_distance + 1
        width = 64 // count
        keys = []
        for band in range(count):
            bits = 64 - band * width if band == count - 1 else width
            value = (self.simhash >> (band * width)) & ((1 << bits) - 1)
            keys.append(f"{band}:{value:x}")
        return keys


def fingerprint(body: str) -> Fingerprint:
    words = _WORD.findall(unicodedata.normalize("NFKC", body).casefold())
    content_hash = hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()
    if len(words) < _MIN_WORDS_FOR_NEAR:
        return Fingerprint(content_hash=content_hash, simhash=None)
    return Fingerprint(content_hash=content_hash, simhash=simhash(words))


def simhash(words: list[str]) -> int:
    """64-bit SimHash of the word 3-shingles of ``words``."""
    values = np.fromiter(
        (
            int.from_bytes(
                hashlib.blake2b(" ".join(words[i : i + _SHINGLE]).encode(), digest_size=8).digest(),
                "big",
            )
            for i in range(max(1, len(words) - _SHINGLE + 1))
        ),
        dtype=np.uint64,
    )
    bits = (values[:, None] >> _BIT_POSITIONS) & np.uint64(1)
    ones = bits.sum(axis=0)
    return sum(1 << bit for bit in range(64) if 2 * int(ones[bit]) > len(values))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


class DuplicateIndex(Protocol):
    """Remembers fingerprints and says which earlier article an article duplicates.

    ``first_seen`` records ``article_id`` with ``fp`` and returns the id of the first
    article seen with the same or a near-identical body, or None if there is none.
    Asking again for the same ``article_id`` (a replay) returns the same answer, and an
    article is never a duplicate of itself.
    """

    def first_seen(self, article_id: str, fp: Fingerprint) -> str | None: ...


class InMemoryDuplicateIndex:
    """A DuplicateIndex in process memory (tests, the offline CLI, a single worker)."""

    def __init__(self, *, max_distance: int = MAX_DISTANCE) -> None:
        self._max_distance = max_distance
        self._answers: dict[str, str | None] = {}
        self._by_hash: dict[str, str] = {}
        self._by_band: dict[str, list[tuple[str, int]]] = defaultdict(list)

    def first_seen(self, article_id: str, fp: Fingerprint) -> str | None:
        if article_id in self._answers:
            return self._answers[article_id]
        original = self._by_hash.get(fp.content_hash) or self._near(fp)
        self._answers[article_id] = original
        # Point at the first id seen, so a chain of near-copies all name the original.
        self._by_hash.setdefault(fp.content_hash, original or article_id)
        if fp.simhash is not None:
            for band in fp.bands(self._max_distance):
                self._by_band[band].append((original or article_id, fp.simhash))
        return original

    def _near(self, fp: Fingerprint) -> str | None:
        if fp.simhash is None:
            return None
        for band in fp.bands(self._max_distance):
            for seen_id, seen_hash in self._by_band.get(band, ()):
                if hamming(seen_hash, fp.simhash) <= self._max_distance:
                    return seen_id
        return None
