"""Exact and near-duplicate detection: SHA-256 of the normalised body + MinHash of shingles.

A syndicated story republished on another site differs in a standfirst, a credit line
or a few edited words: its word 3-shingles mostly stay the same. MinHash estimates the
Jaccard similarity of two shingle sets from 128 minimum hashes; two bodies are
near-duplicates when the estimate is at least ``threshold`` (0.8).

Lookups use LSH banding: the 128 values are cut into 16 bands of 8, and each band is an
exact-match key (a dict here, a keyword field in Elasticsearch). Two bodies with
Jaccard 0.8 share a band with probability 0.95, with 0.9 almost surely, with 0.5 only
6 % of the time, so candidates are few and each is then checked on the full signature.

``DuplicateIndex`` is the contract a store must meet; ``InMemoryDuplicateIndex`` is
the reference implementation, lost on restart. A store keeps, per article, the content
hash, the band keys (exact-match lookup) and ``fp.encoded()``; it verifies a candidate
with ``fp.matches_stored(content_hash, encoded)``. No store needs to know the algorithm.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from hashlib import blake2b
from typing import Protocol

import numpy as np

from streams.tokens import alnum_runs

_SHINGLE = 3
PERMUTATIONS = 128
BANDS = 16
THRESHOLD = 0.8
# Short texts (a headline, a stub) have too few shingles to compare approximately.
_MIN_WORDS_FOR_NEAR = 30
# One seed per permutation, fixed: signatures must agree across workers and restarts.
_SEEDS = np.random.default_rng(20240607).integers(0, 2**63, size=PERMUTATIONS, dtype=np.uint64)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies an article body: exact hash and MinHash signature."""

    content_hash: str
    signature: tuple[int, ...] | None  # None: too short to compare approximately

    def bands(self) -> list[str]:
        """``"<band>:<hex>"`` keys; a near-duplicate very likely shares at least one."""
        if self.signature is None:
            return []
        rows = len(self.signature) // BANDS
        keys = []
        for band in range(BANDS):
            chunk = self.signature[band * rows : (band + 1) * rows]
            digest = hashlib.blake2b(repr(chunk).encode(), digest_size=8).hexdigest()
            keys.append(f"{band}:{digest}")
        return keys

    def similarity(self, other: Fingerprint) -> float:
        """Estimated Jaccard similarity of the two bodies' shingle sets."""
        if self.content_hash == other.content_hash:
            return 1.0
        if self.signature is None or other.signature is None:
            return 0.0
        same = sum(a == b for a, b in zip(self.signature, other.signature, strict=True))
        return same / len(self.signature)

    def encoded(self) -> str | None:
        """The signature as compact text for a store (base64 of its low 32 bits per value)."""
        if self.signature is None:
            return None
        raw = np.array(self.signature, dtype=np.uint64).astype(np.uint32).astype(">u4")
        return base64.b64encode(raw.tobytes()).decode("ascii")

    def matches_stored(
        self, content_hash: str, encoded: str | None, *, threshold: float = THRESHOLD
    ) -> bool:
        """Whether a stored article (its hash and ``encoded()``) is a duplicate of this one."""
        if content_hash == self.content_hash:
            return True
        mine = self.encoded()
        if mine is None or not encoded:
            return False
        a = np.frombuffer(base64.b64decode(mine), dtype=">u4")
        b = np.frombuffer(base64.b64decode(encoded), dtype=">u4")
        return a.shape == b.shape and float((a == b).mean()) >= threshold


def fingerprint(body: str) -> Fingerprint:
    words = alnum_runs(unicodedata.normalize("NFKC", body).casefold())
    content_hash = hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()
    if len(words) < _MIN_WORDS_FOR_NEAR:
        return Fingerprint(content_hash=content_hash, signature=None)
    return Fingerprint(content_hash=content_hash, signature=minhash(words))


def minhash(words: list[str]) -> tuple[int, ...]:
    """MinHash signature of the word 3-shingles of ``words``."""
    shingles = {" ".join(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}
    # Each shingle's 8-byte digest read as a big-endian integer, all digests at once.
    digests = b"".join(blake2b(s.encode(), digest_size=8).digest() for s in shingles)
    hashes = np.frombuffer(digests, dtype=">u8").astype(np.uint64)
    # splitmix64's finaliser of (shingle hash XOR seed): independent hash functions.
    values = hashes[:, None] ^ _SEEDS[None, :]
    values = (values ^ (values >> np.uint64(30))) * _M1  # wraps modulo 2**64, as intended
    values = (values ^ (values >> np.uint64(27))) * _M2
    values ^= values >> np.uint64(31)
    return tuple(values.min(axis=0).tolist())


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

    def __init__(self, *, threshold: float = THRESHOLD) -> None:
        self._threshold = threshold
        self._answers: dict[str, str | None] = {}
        self._by_hash: dict[str, str] = {}
        self._by_band: dict[str, list[tuple[str, Fingerprint]]] = defaultdict(list)

    def first_seen(self, article_id: str, fp: Fingerprint) -> str | None:
        if article_id in self._answers:
            return self._answers[article_id]
        original = self._by_hash.get(fp.content_hash) or self._near(fp)
        self._answers[article_id] = original
        # Point at the first id seen, so a chain of near-copies all name the original.
        self._by_hash.setdefault(fp.content_hash, original or article_id)
        for band in fp.bands():
            self._by_band[band].append((original or article_id, fp))
        return original

    def _near(self, fp: Fingerprint) -> str | None:
        best_id, best = None, self._threshold
        for band in fp.bands():
            for seen_id, seen in self._by_band.get(band, ()):
                similarity = fp.similarity(seen)
                if similarity >= best:
                    best_id, best = seen_id, similarity
        return best_id
